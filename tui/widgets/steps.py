"""Steps: one row per runbook step (or the URL): requests, rps, errors, p50, p99, codes."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from ...engine import Snapshot, StepSnapshot
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
    """Numbers keep their full width; the step name gives way (with an ellipsis) when narrow."""
    rows = [_row(step) for step in snapshot.steps]
    headers = ("step", "req", "rps", "err", "p50", "p99", "codes")
    table = Table(box=None, expand=True, padding=(0, 1), header_style="bold", show_edge=False)
    table.add_column(headers[0], ratio=1, min_width=8, no_wrap=True, overflow="ellipsis")
    for index, header in enumerate(headers[1:-1], start=1):
        width = max([len(header)] + [len(row[index].plain) for row in rows])
        table.add_column(header, justify="right", width=width, no_wrap=True)
    codes_width = min(18, max([5] + [len(row[-1].plain) for row in rows]))
    table.add_column(headers[-1], width=codes_width, no_wrap=True, overflow="ellipsis")
    for row in rows:
        table.add_row(*row)
    return table


def _row(step: StepSnapshot) -> list[Text]:
    has = step.latency.count > 0
    codes = " ".join(f"{code}×{compact(count)}" for code, count in step.status_codes) or "–"
    return [
        Text(step.name),
        Text(compact(step.requests)),
        Text(compact(step.rps)),
        Text(f"{step.errors:,}", style="bold red" if step.errors else "dim"),
        Text(ms(step.latency.p50) if has else "–"),
        Text(ms(step.latency.p99) if has else "–"),
        Text(codes),
    ]
