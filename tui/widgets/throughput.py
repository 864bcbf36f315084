"""Throughput: requests per second over time, errors stacked in red, markers where the user
changed something."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from loadscope.engine import EventRecord, Snapshot

from ..format import number
from ._charts import Marker, Series
from .chart import TimeChart, legend
from .panel import Panel
from .text_view import TextView

MARKER_KINDS = frozenset(
    {
        "concurrency",
        "rate",
        "max_vus",
        "reuse",
        "http",
        "pause",
        "resume",
        "reset",
        "stage",
        "phase",
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
        layers = [Series(ok, OK_STYLE, "responses/s"), Series(errors, ERROR_STYLE, "errors/s")]
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
        text.append(f" {_short(event.kind, event.message)}  ", style="yellow")
    return text


SHORT_LABELS = {
    "concurrency": "c",
    "rate": "rate",
    "max_vus": "max VUs",
    "reuse": "reuse",
    "http": "HTTP",
    "stage": "stage",
    "phase": "phase",
}


def _short(kind: str, message: str) -> str:
    """`concurrency 10 → 20` becomes `c→20`: the legend names only the new value."""
    if kind in ("pause", "resume", "reset"):
        return kind
    if "→" not in message:  # `phase 2/3: per-iteration for 20s` becomes `phase→per-iteration`
        new_value = message.partition(": ")[2].split(" ")[0] or message.split(" ")[0]
        return f"{SHORT_LABELS.get(kind, kind)}→{new_value}"
    new_value = message.rsplit("→", 1)[-1].strip().split(" ")[0]
    return f"{SHORT_LABELS.get(kind, kind)}→{new_value}"
