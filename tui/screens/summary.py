"""The summary: the final report of a stopped run and where it was saved."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static


class SummaryScreen(Screen[None]):
    CSS_PATH = "summary.tcss"
    BINDINGS = [
        Binding("escape", "back", "dashboard"),
        Binding("q", "app.quit_or_stop", "quit"),
        Binding("s", "app.save", "save again"),
    ]

    def __init__(self, report_text: str, saved_to: Path | None) -> None:
        super().__init__()
        self._report_text = report_text
        self._saved_to = saved_to

    def compose(self) -> ComposeResult:
        banner = Text()
        banner.append(" Run stopped ", style="bold reverse green")
        if self._saved_to is None:
            banner.append("  the report could not be saved", style="bold red")
        else:
            banner.append("  report saved to ", style="dim")
            banner.append(str(self._saved_to), style="bold")
        banner.append("   q: quit · esc: back to the dashboard · s: save again", style="dim")
        yield Static(banner, id="summary-banner")
        with VerticalScroll(id="summary-body"):
            yield Static(Text(self._report_text), id="summary-report")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#summary-body").border_title = "Summary"

    def action_back(self) -> None:
        self.app.pop_screen()
