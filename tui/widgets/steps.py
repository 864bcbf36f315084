"""Steps: one row per runbook step (or the URL): requests, rps, errors, p50, p99, codes."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from engine import Snapshot

from ..format import compact, ms
from .panel import Panel
from .text_view import TextView


class StepsPanel(Panel):
    DEFAULT_CSS = """
    StepsPanel VerticalScroll { height: 1fr; scrollbar-size-vertical: 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield TextView(id="steps-table")

    def on_mount(self) -> None:
        self.border_title = "Steps"

    def show(self, snapshot: Snapshot) -> None:
        view = self.query_one("#steps-table", TextView)
        rows = len(snapshot.steps) + 1
        if view.styles.height is None or view.styles.height.value != rows:
            view.styles.height = rows
        view.show(steps_table(snapshot))
        failed = snapshot.iterations_failed
        self.border_subtitle = (
            f"iterations {snapshot.iterations_total:,} · failed {failed:,}"
            if snapshot.iterations_total
            else ""
        )


def steps_table(snapshot: Snapshot) -> Table:
    table = Table(box=None, expand=True, padding=(0, 1), header_style="bold", show_edge=False)
    longest = max((len(step.name) for step in snapshot.steps), default=4)
    table.add_column("step", ratio=1, no_wrap=True, overflow="ellipsis", min_width=min(longest, 22))
    for name in ("requests", "rps", "errors", "p50", "p99"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("codes", no_wrap=True, overflow="ellipsis", max_width=14)
    for step in snapshot.steps:
        codes = " ".join(f"{code}×{compact(count)}" for code, count in step.status_codes) or "–"
        has = step.latency.count > 0
        table.add_row(
            step.name,
            compact(step.requests),
            compact(step.rps),
            Text(f"{step.errors:,}", style="bold red" if step.errors else "dim"),
            ms(step.latency.p50) if has else "–",
            ms(step.latency.p99) if has else "–",
            codes,
        )
    return table
