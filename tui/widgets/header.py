"""The session header: what is being loaded, how, for how long, and in which state."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ...engine import HttpVersion, Snapshot
from ..format import clock, counted, number

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
    # The level (VUs, or it/s in the open model) a key asked for that no snapshot shows yet:
    # shown at once, so a key acts on screen even while the engine is a second behind.
    asked: reactive[float | None] = reactive(None)
    planned_s: float | None = None  # the run's planned time (-d, or the stages' total)

    def render(self) -> Text:
        snap = self.snapshot
        if snap is None:
            text = Text()
            text.append(" loadscope ", style="bold reverse")
            text.append("  starting the engine…", style="dim")
            return text
        width = self.size.width or 120
        for level in range(4):  # labels give way, one level at a time, before a number or the URL
            text = self._line(snap, level)
            if text.cell_len <= width:
                return text
        targets = _short_targets(snap)  # then the URL's scheme, then the middle of its path
        text = self._line(snap, 3, targets)
        if text.cell_len > width:
            text = self._line(snap, 3, _elide_middle(targets, len(targets) - text.cell_len + width))
        text.truncate(width, overflow="ellipsis")
        return text

    def _line(self, snap: Snapshot, level: int, targets: str | None = None) -> Text:
        """Level 0: every label; 1: no badge, no `reuse`; 2: the state as a symbol only;
        3: no `HTTP`, the model in short, tight separators."""
        labelled = level == 0
        text = Text(no_wrap=True, overflow="ellipsis")
        if labelled:
            text.append(" loadscope ", style="bold reverse")
        symbol, style = STATE_STYLES.get(snap.state, ("?", ""))
        state = "warming up" if snap.warming_up and snap.state == "running" else snap.state
        text.append(f" {symbol} {state.upper()} " if level < 2 else f" {symbol}", style=style)
        text.append(f" {clock(snap.session_s)}", style="bold")
        planned = snap.duration_s or self.planned_s
        if planned:
            text.append(f"/{clock(planned + snap.warm_up_s)}", style="dim")
        separator = "  │ " if labelled else " │ " if level < 3 else "│"
        model = _model(snap, self.asked)
        parts = [model, f"reuse {snap.reuse_mode}", f"HTTP {_version(snap)}"]
        if level >= 1:
            parts[1] = snap.reuse_mode
        if level >= 3:
            parts[0] = model.removeprefix("open ").replace(" (", " ").rstrip(")")
            parts[2] = _version(snap)
        for part in parts:
            text.append(separator, style="dim")
            text.append(part, style="bold")
        text.append(separator, style="dim")
        label = self.runbook or snap.scenario
        joined = ", ".join(snap.targets)
        shown = joined if targets is None else targets
        if label == joined:  # a URL run: the label is the URL
            label, shown = shown, ""
        text.append(label, style="bold cyan")
        if shown:
            text.append(" → ", style="dim")
            text.append(shown, style="cyan")
        return text


def _short_targets(snap: Snapshot) -> str:
    return ", ".join(target.removeprefix("http://") for target in snap.targets)


def _elide_middle(text: str, room: int) -> str:
    """`127.0.0.1:8080/a/…/z`: both ends of a URL say more than its middle."""
    if len(text) <= room:
        return text
    if room < 8:
        return text[: max(room - 1, 0)] + "…"
    head = (room - 1) * 2 // 3
    return text[:head] + "…" + text[len(text) - (room - 1 - head) :]


def _model(snap: Snapshot, asked: float | None = None) -> str:
    if snap.mode == "open":
        rate = number(snap.rate or 0) + _going_to(snap.rate or 0, asked, number)
        return f"open {rate} it/s ({snap.busy_vus:,}/{snap.max_vus:,} VUs)"
    if asked is None or int(asked) == snap.concurrency:
        return counted(snap.concurrency, "VU")
    return f"{snap.concurrency:,}{_going_to(snap.concurrency, int(asked), '{:,}'.format)} VUs"


def _going_to(now: float, asked: float | None, shown: Callable[[float], str]) -> str:
    """` → 12`: where a key has sent the level, until a snapshot shows it there."""
    return "" if asked is None or asked == now else f" → {shown(asked)}"


def _version(snap: Snapshot) -> str:
    return HttpVersion(snap.http_version).describe(snap.http_version_in_use)
