"""The help screen: every key binding and what each panel shows."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

PANELS = (
    (
        "Throughput",
        "responses per second (green) and errors per second (red, in front: a failed status "
        "is a response too) over time; numbered markers are changes you made, listed below "
        "the chart",
    ),
    (
        "Latency",
        "histogram of the last 10 s in log buckets, with p50/p90/p99/max marked; "
        "percentiles for the window and the whole run",
    ),
    ("Latency over time", "p50 and p99 for every second"),
    (
        "Connections",
        "open / active / idle now, opened per second, requests per connection, "
        "share of requests that paid a handshake, connect and TLS times, why connections closed, "
        "and the kernel's TIME_WAIT count. Zoom it to see the live connection ledger (o: order)",
    ),
    ("Steps", "one row per runbook step: requests, rps, errors, p50, p99, status codes"),
    ("Errors & events", "errors by kind with the last message, detector warnings, and the log"),
)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "close"),
    ]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self._app_bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._keys(), id="help-keys")
            yield Static(self._panels(), id="help-panels")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "loadscope — keys"
        self.query_one("#help").border_subtitle = "esc or ? to close"

    def _keys(self) -> Table:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold yellow", justify="right")
        table.add_column()
        for key, description in self.key_rows():
            table.add_row(key, description)
        return table

    def key_rows(self) -> list[tuple[str, str]]:
        """(key, what it does) for every binding shown in the footer, then mouse and panel keys."""
        descriptions = {
            "±1": "one virtual user more / fewer (open model: ±1 iteration/s)",
            "±10": "ten virtual users more / fewer (open model: ±10 iterations/s)",
            "set": "type an exact concurrency (the rate, in open mode)",
            "pause": "(space) pause: no new requests; again to resume",
            "reuse": "cycle connection reuse: shared → per-vu → per-iteration → none",
            "http": "HTTP version: auto → 1.1 → 2 (h2c on http://) → 3 (QUIC, https:// only) → "
            "auto; the header shows it",
            "reset": "reset statistics; the run goes on",
            "save": "save the report (JSON, text and HTML) and a screenshot (SVG) in the save "
            "directory (./loadscope-reports unless --save-dir says)",
            "stop": "stop, and show the summary with the final report; q again exits",
            "help": "this screen",
        }
        rows = [
            (
                binding.key_display or binding.key,
                descriptions.get(binding.description, binding.description),
            )
            for binding in self._app_bindings
            if binding.show
        ]
        rows.append(
            (
                "--stages",
                "the stages set the VUs (the rate with --rate), as k6's stages and Locust's load "
                "shapes do: + - ] [ c then say so and change nothing",
            )
        )
        rows.append(("z", "zoom the focused panel (tab moves the focus), else Connections"))
        rows.append(("click", "zoom a panel; click again, z or esc to unzoom"))
        rows.append(("o", "in the zoomed Connections panel: order the ledger by requests or age"))
        return rows

    def _panels(self) -> Table:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold cyan", justify="right")
        table.add_column()
        for name, text in PANELS:
            table.add_row(name, Text(text))
        return table
