"""Errors by kind with the last message of each, warnings from the detectors, iteration
failures, and the event log (changes, stages, warnings)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import RichLog

from ...engine import EventKind, EventRecord, Snapshot
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

    def on_resize(self) -> None:
        """Warnings are fitted to the width: fit them again when it changes."""
        if self.snapshot is not None:
            self._show_table(self.snapshot)

    def show(self, snapshot: Snapshot) -> None:
        self._show_table(snapshot)
        self._append_events(snapshot)

    def _show_table(self, snapshot: Snapshot) -> None:
        view = self.query_one("#errors-table", TextView)
        renderable, height = errors_view(snapshot, self.content_size.width or 60)
        if view.styles.height is None or view.styles.height.value != height:
            view.styles.height = height
        view.show(renderable)

    def _append_events(self, snapshot: Snapshot) -> None:
        log = self.query_one(RichLog)
        events = snapshot.events
        start = 0
        if self._last_event_key is not None:
            keys = [(e.t, e.message) for e in events]
            start = keys.index(self._last_event_key) + 1 if self._last_event_key in keys else 0
        for event in events[start:]:
            log.write(event_entry(event.t, event.kind, event.message))
            advice = _advice_for(snapshot, event)
            if advice:
                log.write(event_entry(None, "", f"→ {advice}", style="yellow"))
        if events:
            self._last_event_key = (events[-1].t, events[-1].message)


EVENT_LABELS = {
    "concurrency": ("VUs", ("concurrency ",)),
    "max_vus": ("max VUs", ("max VUs ",)),
    "reuse": ("reuse", ("reuse mode ", "reuse ")),
    "http": ("HTTP", ("HTTP version ", "HTTP ")),
    "rate": ("rate", ("rate ",)),
}
TIME_WIDTH = 6
KIND_WIDTH = 9


def event_parts(kind: str, message: str) -> tuple[str, str]:
    """The label and the text of an entry, saying each thing once: `concurrency 11 → 12`
    reads `VUs  11 → 12`, not `concurrency concurrency 11 → 12`."""
    label, prefixes = EVENT_LABELS.get(kind, (kind, (f"{kind} ",)))
    for prefix in prefixes:
        if message.startswith(prefix):
            return label, message.removeprefix(prefix)
    return label, message


def event_entry(t: float | None, kind: str, message: str, *, style: str = "") -> Table:
    """One entry: time and label in their own columns, so a long message wraps under itself."""
    label, text = event_parts(kind, message) if kind else ("", message)
    style = style or (EVENT_STYLES.get(EventKind(kind), "") if kind else "")
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=TIME_WIDTH, justify="right", style="dim", no_wrap=True)
    grid.add_column(width=KIND_WIDTH, no_wrap=True, overflow="ellipsis")
    grid.add_column(ratio=1, overflow="fold")
    grid.add_row(
        clock(t) if t is not None else "",
        Text(label, style=style or "cyan"),
        Text(text, style=style),
    )
    return grid


def _advice_for(snapshot: Snapshot, event: EventRecord) -> str:
    """What to change, for a detector's warning (its numbers may have moved on since)."""
    if event.kind is not EventKind.DETECTOR:
        return ""
    return next((w.advice for w in snapshot.warnings if w.kind == event.detector), "")


def errors_view(snapshot: Snapshot, width: int = 60) -> tuple[Group, int]:
    """Detector warnings first, then request errors by kind and the failed iterations.
    Returns the renderable and its height in lines."""
    warnings = _warning_lines(snapshot, width)
    height = len(warnings)
    table = Table(box=None, expand=True, padding=(0, 1), header_style="bold", show_edge=False)
    table.add_column("errors", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("last message, or reasons", ratio=1, no_wrap=True, overflow="ellipsis")
    for error in snapshot.errors[:ROWS_SHOWN]:
        table.add_row(Text(error.kind, style="bold red"), f"{error.count:,}", error.last_message)
    if snapshot.iterations_failed and table.row_count < ROWS_SHOWN:
        table.add_row(
            Text("failed iterations", style="red"),
            f"{snapshot.iterations_failed:,}",
            _top_reason(snapshot.failures),
        )
    if not table.row_count:
        if warnings:  # the warnings say enough; an empty table would only add a header
            return Group(*warnings, Text("no errors", style="dim green")), height + 1
        table.add_row(Text("none", style="green"), "", Text("no errors", style="dim"))
    return Group(*warnings, table), height + table.row_count + 1


def _warning_lines(snapshot: Snapshot, width: int) -> list[Text]:
    """Warnings that fit whole, one a line; the others by kind, on one shared line when they
    fit there, so the event log below (which has them whole) keeps its room."""
    lines: list[Text] = []
    named: list[str] = []
    for warning in snapshot.warnings:
        line = Text(f"! {warning.kind}: ", style="bold yellow", no_wrap=True)
        line.append(warning.message, style="yellow")
        if line.cell_len <= width:
            lines.append(line)
        else:
            named.append(warning.kind)
    groups: list[list[str]] = []
    for kind in named:  # as few lines as the kinds fit on
        if groups and _named_line([*groups[-1], kind]).cell_len <= width:
            groups[-1].append(kind)
        else:
            groups.append([kind])
    return lines + [_named_line(group) for group in groups]


def _named_line(kinds: list[str]) -> Text:
    line = Text(f"! {', '.join(kinds)}", style="bold yellow", no_wrap=True, overflow="ellipsis")
    line.append(BELOW, style="dim yellow")
    return line


BELOW = " (see events)"


def _top_reason(failures: tuple[tuple[str, int], ...]) -> str:
    """How many reasons, then the commonest with its own count (the tail may be cut)."""
    if not failures:
        return ""
    reason, count = failures[0]
    others = f"+{len(failures) - 1} more; top " if len(failures) > 1 else ""
    return f"{others}{count:,}× {reason}"
