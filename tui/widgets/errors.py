"""Errors by kind with the last message of each, warnings from the detectors, iteration
failures, and the event log (changes, stages, warnings)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import RichLog

from loadscope.engine import EventKind, EventRecord, Snapshot

from ..format import clock
from .panel import Panel
from .text_view import TextView

EVENT_STYLES = {
    EventKind.WARNING: "bold yellow",
    EventKind.DETECTOR: "bold yellow",
    EventKind.ABORT: "bold red",
}
ROWS_SHOWN = 6


class ErrorsPanel(Panel):
    DEFAULT_CSS = """
    ErrorsPanel #errors-table { height: 2; max-height: 60%; }
    ErrorsPanel #events-log {
        height: 1fr; overflow-x: hidden; overflow-y: auto; scrollbar-size-vertical: 1;
        background: transparent;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._last_event_key: tuple[float, str] | None = None

    def compose(self) -> ComposeResult:
        yield TextView(id="errors-table")
        yield RichLog(id="events-log", wrap=True, markup=False, max_lines=500, min_width=30)

    def on_mount(self) -> None:
        self.border_title = "Errors & events"

    def show(self, snapshot: Snapshot) -> None:
        renderable, height = errors_view(snapshot)
        view = self.query_one("#errors-table", TextView)
        if view.styles.height is None or view.styles.height.value != height:
            view.styles.height = height
        view.show(renderable)
        self._append_events(snapshot)

    def _append_events(self, snapshot: Snapshot) -> None:
        log = self.query_one(RichLog)
        events = snapshot.events
        start = 0
        if self._last_event_key is not None:
            keys = [(e.t, e.message) for e in events]
            start = keys.index(self._last_event_key) + 1 if self._last_event_key in keys else 0
        for event in events[start:]:
            style = EVENT_STYLES.get(event.kind, "")
            line = Text(f"{clock(event.t):>6} ", style="dim")
            line.append(f"{event.kind:<11} ", style=style or "cyan")
            line.append(event.message, style=style)
            log.write(line)
            advice = _advice_for(snapshot, event)
            if advice:
                log.write(Text(f"{'':>6} → {advice}", style="yellow"))
        if events:
            self._last_event_key = (events[-1].t, events[-1].message)


def _advice_for(snapshot: Snapshot, event: EventRecord) -> str:
    """What to change, for a detector's warning (its numbers may have moved on since)."""
    if event.kind is not EventKind.DETECTOR:
        return ""
    return next((w.advice for w in snapshot.warnings if w.kind == event.detector), "")


def errors_view(snapshot: Snapshot) -> tuple[Group, int]:
    """Detector warnings first, one full-width line each, then errors and failures by kind.
    Returns the renderable and its height in lines."""
    warnings = []
    for warning in snapshot.warnings:
        line = Text(f"! {warning.kind}: ", style="bold yellow", no_wrap=True, overflow="ellipsis")
        line.append(warning.message, style="yellow")
        warnings.append(line)
    table = Table(box=None, expand=True, padding=(0, 1), header_style="bold", show_edge=False)
    table.add_column("kind", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("last message", ratio=1, no_wrap=True, overflow="ellipsis")
    for error in snapshot.errors[:ROWS_SHOWN]:
        table.add_row(Text(error.kind, style="bold red"), f"{error.count:,}", error.last_message)
    for reason, count in snapshot.failures[: max(0, ROWS_SHOWN - table.row_count)]:
        table.add_row(Text("failed it.", style="red"), f"{count:,}", reason)
    if not table.row_count:
        if warnings:  # the warnings say enough; an empty table would only add a header
            return Group(*warnings, Text("no errors", style="dim green")), len(warnings) + 1
        table.add_row(Text("none", style="green"), "", Text("no errors", style="dim"))
    return Group(*warnings, table), len(warnings) + table.row_count + 1
