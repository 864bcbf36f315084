"""Throughput: responses per second over time, errors per second in red in front of them (a
failed status is a response too, so errors are not stacked on top), markers where the user
changed something."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from ...engine import EventKind, EventRecord, Snapshot
from ..format import number
from ._charts import Marker, Series
from .chart import TimeChart, legend
from .panel import Panel
from .text_view import TextView

MARKER_KINDS = frozenset(
    {
        EventKind.CONCURRENCY,
        EventKind.RATE,
        EventKind.MAX_VUS,
        EventKind.REUSE,
        EventKind.HTTP,
        EventKind.PAUSE,
        EventKind.RESUME,
        EventKind.RESET,
        EventKind.STAGE,
        EventKind.PHASE,
    }
)
MARKERS_SHOWN = 9
OK_STYLE = "green"
ERROR_STYLE = "bold red"


def markers_for(snapshot: Snapshot) -> list[tuple[Marker, EventRecord]]:
    """Recent user changes, on the timeline's clock (seconds since statistics started)."""
    offset = snapshot.session_s - snapshot.elapsed_s
    changes = [e for e in snapshot.events if e.kind in MARKER_KINDS and e.t >= offset]
    changes = changes[-MARKERS_SHOWN:]
    return [
        (Marker(event.t - offset, str(number_ + 1)), event) for number_, event in enumerate(changes)
    ]


class ThroughputPanel(Panel):
    DEFAULT_CSS = """
    ThroughputPanel #throughput-now { height: 2; }
    """

    def compose(self) -> ComposeResult:
        yield TextView(id="throughput-now")
        yield TimeChart("area", id="throughput-chart")
        yield TextView(id="throughput-legend")

    def on_mount(self) -> None:
        self.border_title = "Throughput"

    def show(self, snapshot: Snapshot) -> None:
        timeline = snapshot.timeline
        ok = [p.rps for p in timeline]
        errors = [float(p.errors) for p in timeline]
        t_end = timeline[-1].t if timeline else 0
        marks = markers_for(snapshot)
        layers = [
            Series(ok, OK_STYLE, "responses/s"),
            Series(errors, ERROR_STYLE, "errors/s", overlay=True),
        ]
        self.query_one("#throughput-chart", TimeChart).plot(
            layers, t_end, [marker for marker, _ in marks]
        )
        self.query_one("#throughput-now", TextView).show(_now_line(snapshot))
        self.query_one("#throughput-legend", TextView).show(_legend(layers, marks))


def _now_line(snapshot: Snapshot) -> Text:
    last = snapshot.timeline[-1] if snapshot.timeline else None
    text = Text()
    errors_now = last.errors if last else 0
    _stat(text, number(last.rps if last else 0), "req/s now", "bold green")
    _stat(text, number(snapshot.rps_mean), "mean", "bold")
    _stat(text, f"{errors_now:,}", "errors/s", "bold red" if errors_now else "bold")
    text.append("\n")
    _stat(text, f"{snapshot.requests_total:,}", "requests", "bold")
    _stat(
        text,
        f"{snapshot.errors_total:,}",
        "errors",
        "bold red" if snapshot.errors_total else "bold",
    )
    if snapshot.mode == "open":
        dropped = snapshot.dropped_iterations
        _stat(text, f"{dropped:,}", "dropped", "bold yellow" if dropped else "bold")
    return text


def _stat(text: Text, value: str, label: str, style: str) -> None:
    text.append(value + " ", style=style)
    text.append(label + "   ", style="dim")


def _legend(layers: list[Series], marks: list[tuple[Marker, EventRecord]]) -> Text:
    text = legend(layers)
    text.no_wrap, text.overflow = True, "ellipsis"
    for marker, event in reversed(marks[-3:]):  # newest first: it is the one being read
        text.append(marker.label[-1:], style="bold black on yellow")
        text.append(f" {_short(event)}  ", style="yellow")
    return text


SHORT_LABELS = {
    EventKind.CONCURRENCY: "c",
    EventKind.RATE: "rate",
    EventKind.MAX_VUS: "max VUs",
    EventKind.REUSE: "reuse",
    EventKind.HTTP: "HTTP",
    EventKind.STAGE: "stage",
    EventKind.PHASE: "phase",
}
NO_VALUE = frozenset({EventKind.PAUSE, EventKind.RESUME, EventKind.RESET})


def _short(event: EventRecord) -> str:
    """The legend names only the new value: a change of concurrency to 20 is `c→20`."""
    if event.kind in NO_VALUE:
        return event.kind.value
    return f"{SHORT_LABELS.get(event.kind, event.kind.value)}→{_new_value(event)}"


def _new_value(event: EventRecord) -> str:
    if event.mode is not None:
        return event.mode
    if event.after is None:
        return ""
    return f"{number(event.after)}/s" if event.kind is EventKind.RATE else number(event.after)
