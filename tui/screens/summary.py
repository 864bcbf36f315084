"""The summary: the final report of a stopped run and where it was saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from ..widgets.footer import FittedFooter


class SummaryScreen(Screen[None]):
    CSS_PATH = "summary.tcss"
    BINDINGS = [
        Binding("escape", "back", "dashboard"),
        Binding("q", "app.quit_or_stop", "quit"),
        Binding("s", "app.save", "save again"),
    ]

    def __init__(
        self,
        report_text: str,
        saved_to: Path | None,
        thresholds: list[dict[str, Any]] | None = None,
        aborted_by: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._report_text = report_text
        self._saved_to = saved_to
        self._thresholds = thresholds or []
        self._aborted_by = aborted_by

    def compose(self) -> ComposeResult:
        # The keys are in the footer; the banner keeps the verdict and the path in view.
        banner = Text(no_wrap=True, overflow="ellipsis")
        if self._aborted_by:
            banner.append(" Run stopped by a threshold ", style="bold reverse red")
            banner.append(
                f" {self._aborted_by['expression']} at {self._aborted_by['at_s']:,.1f}s ",
                style="bold red",
            )
        else:
            banner.append(" Run stopped ", style="bold reverse green")
        verdict = threshold_verdict(self._thresholds)
        if verdict:
            failed = any(not result["passed"] for result in self._thresholds)
            banner.append(f" {verdict} ", style="bold reverse red" if failed else "bold green")
        if self._saved_to is None:
            banner.append("  the report could not be saved", style="bold red")
        else:
            banner.append("  report saved to ", style="dim")
            banner.append(str(self._saved_to), style="bold")
        yield Static(banner, id="summary-banner")
        with VerticalScroll(id="summary-body"):
            yield Static(Text(self._report_text), id="summary-report")
        yield FittedFooter()

    def on_mount(self) -> None:
        self.query_one("#summary-body").border_title = "Summary"

    def action_back(self) -> None:
        self.app.pop_screen()


def threshold_verdict(results: list[dict[str, Any]]) -> str:
    """`thresholds: 2 passed` or `thresholds: 1 of 2 FAILED` (empty when there are none)."""
    if not results:
        return ""
    failed = sum(1 for result in results if not result["passed"])
    if failed:
        return f"thresholds: {failed} of {len(results)} FAILED"
    return f"thresholds: {'all ' if len(results) > 1 else ''}{len(results)} passed"
