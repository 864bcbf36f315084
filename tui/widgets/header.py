"""The session header: what is being loaded, how, for how long, and in which state."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from loadscope.engine import Snapshot

from ..format import clock, counted

STATE_STYLES = {
    "running": ("●", "bold green"),
    "paused": ("❚❚", "bold yellow"),
    "stopping": ("◌", "bold magenta"),
    "stopped": ("■", "bold red"),
    "idle": ("○", "dim"),
    "starting": ("○", "dim"),
}


class SessionHeader(Widget):
    DEFAULT_CSS = """
    SessionHeader { height: 1; background: $panel; color: $text; }
    """

    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, layout=False)
    runbook: reactive[str] = reactive("")

    def render(self) -> Text:
        snap = self.snapshot
        text = Text()
        text.append(" loadscope ", style="bold reverse")
        if snap is None:
            text.append("  starting the engine…", style="dim")
            return text
        symbol, style = STATE_STYLES.get(snap.state, ("?", ""))
        label = "warming up" if snap.warming_up and snap.state == "running" else snap.state
        text.append(f" {symbol} {label.upper()} ", style=style)
        text.append(f" {clock(snap.session_s)}", style="bold")
        if snap.duration_s:
            text.append(f"/{clock(snap.duration_s + snap.warm_up_s)}", style="dim")
        text.append("  │ ", style="dim")
        text.append(_model(snap), style="bold")
        text.append("  │ ", style="dim")
        text.append(f"reuse {snap.reuse_mode}", style="bold")
        text.append("  │ ", style="dim")
        text.append(f"HTTP {_version(snap)}", style="bold")
        text.append("  │ ", style="dim")
        label = self.runbook or snap.scenario
        text.append(label, style="bold cyan")
        targets = ", ".join(snap.targets)
        if targets and targets != label:
            text.append(" → ", style="dim")
            text.append(targets, style="cyan")
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text


def _model(snap: Snapshot) -> str:
    if snap.mode == "open":
        return f"open {snap.rate or 0:g} it/s ({snap.busy_vus}/{snap.max_vus} VUs)"
    return counted(snap.concurrency, "VU")


def _version(snap: Snapshot) -> str:
    setting = {"auto": "auto", "http1": "1.1", "http2": "2"}.get(snap.http_version, "?")
    in_use = snap.http_version_in_use
    if snap.http_version == "auto" and in_use:
        return f"auto ({in_use.removeprefix('HTTP/')})"
    return setting
