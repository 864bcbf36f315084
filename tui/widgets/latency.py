"""Latency: the current window's histogram with percentiles marked, a percentile table for the
window and the whole run, and latency over time."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget

from ...engine import HistogramData, LatencySummary, Snapshot
from ..format import ms
from ._charts import Series, histogram_rows
from .chart import TimeChart, legend
from .panel import Panel
from .text_view import TextView
from .throughput import markers_for


class HistogramView(Widget):
    DEFAULT_CSS = """
    HistogramView { width: 1fr; height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._data = HistogramData()
        self._summary = LatencySummary()

    def plot(self, data: HistogramData, summary: LatencySummary) -> None:
        if (data.count, data.total_us, data.max_us) == (
            self._data.count,
            self._data.total_us,
            self._data.max_us,
        ):
            return  # the window only moves once a second
        self._data, self._summary = data, summary
        self.refresh()

    def render(self) -> Group | Text:
        width, height = self.content_size
        if not self._data.count:
            return Text("no responses in the window yet", style="dim")
        s = self._summary
        marks = [("p50", s.p50), ("p90", s.p90), ("p99", s.p99), ("max", s.max)]
        bins = self._data.log_bins(max(3, min(height, 16)))
        return Group(*histogram_rows(bins, width, marks))


class LatencyPanel(Panel):
    DEFAULT_CSS = """
    LatencyPanel Horizontal { height: 1fr; }
    LatencyPanel #latency-table { width: 27; height: 8; margin-left: 1; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield HistogramView(id="latency-histogram")
            yield TextView(id="latency-table")

    def on_mount(self) -> None:
        self.border_title = "Latency"

    def show(self, snapshot: Snapshot) -> None:
        window = snapshot.latency_window
        self.border_subtitle = f"histogram of the last {_window_seconds(snapshot)} s"
        self.query_one(HistogramView).plot(snapshot.histogram_window, window)
        self.query_one("#latency-table", TextView).show(percentile_table(window, snapshot.latency))


def _window_seconds(snapshot: Snapshot) -> int:
    return min(10, max(1, len(snapshot.timeline)))


def percentile_table(window: LatencySummary, run: LatencySummary) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
    table.add_column("", style="dim")
    table.add_column("window", justify="right", style="bold")
    table.add_column("run", justify="right")
    for name, attr in (
        ("p50", "p50"),
        ("p90", "p90"),
        ("p99", "p99"),
        ("p99.9", "p999"),
        ("max", "max"),
        ("mean", "mean"),
    ):
        table.add_row(name, _cell(window, attr), _cell(run, attr))
    table.add_row("count", f"{window.count:,}", f"{run.count:,}")
    return table


def _cell(summary: LatencySummary, attr: str) -> str:
    return ms(getattr(summary, attr)) if summary.count else "–"


class LatencyTrendPanel(Panel):
    """p50 and p99 per second."""

    def compose(self) -> ComposeResult:
        yield TimeChart("line", unit="ms", id="latency-trend-chart")
        yield TextView(id="latency-trend-legend")

    def on_mount(self) -> None:
        self.border_title = "Latency over time"

    def show(self, snapshot: Snapshot) -> None:
        timeline = snapshot.timeline
        p99 = [p.p99_ms for p in timeline]
        p50 = [p.p50_ms for p in timeline]
        t_end = timeline[-1].t if timeline else 0
        markers = [marker for marker, _ in markers_for(snapshot)]
        lines = [Series(p50, "cyan", "p50"), Series(p99, "magenta", "p99")]
        self.query_one(TimeChart).plot(lines[::-1], t_end, markers)  # p50 drawn on top
        key = legend(lines)
        if timeline:
            last = timeline[-1]
            timed = last.rps > 0  # no response this second (0 VUs, paused): nothing to show
            now_p50, now_p99 = (ms(last.p50_ms), ms(last.p99_ms)) if timed else ("–", "–")
            key.append(f" now p50 {now_p50}  p99 {now_p99}")
        self.query_one("#latency-trend-legend", TextView).show(key)
