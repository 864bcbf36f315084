"""The dashboard: every panel of a live session on one screen."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Static

from ...engine import Snapshot
from ..live_thresholds import ThresholdState
from ..widgets.connections import ConnectionsPanel
from ..widgets.errors import ErrorsPanel
from ..widgets.footer import FittedFooter
from ..widgets.header import SessionHeader
from ..widgets.latency import LatencyPanel, LatencyTrendPanel
from ..widgets.panel import Panel
from ..widgets.steps import StepsPanel
from ..widgets.thresholds import ThresholdsRow
from ..widgets.throughput import ThroughputPanel
from ..widgets.workers import WorkersRow

NARROW_WIDTH = 100
SHORT_HEIGHT = 34
TALL_HEIGHT = 46
SCROLL_HINT = "↓ more panels below: scroll, or tab to a panel (z zooms it)"


class DashboardScreen(Screen[None]):
    CSS_PATH = "dashboard.tcss"
    BINDINGS = [
        Binding("z", "zoom", "zoom"),
        Binding("escape", "minimize", "unzoom"),
    ]

    snapshot: var[Snapshot | None] = var(None, always_update=True)
    thresholds: var[tuple[ThresholdState, ...]] = var(())
    asked: var[float | None] = var(None)  # a level sent by a key, not yet in a snapshot

    def __init__(
        self,
        label: str = "",
        thresholds: tuple[ThresholdState, ...] = (),
        *,
        planned_s: float | None = None,
    ) -> None:
        super().__init__()
        self.label = label
        self.planned_s = planned_s  # -d or the stages' total: the header shows it
        self.set_reactive(DashboardScreen.thresholds, thresholds)

    def compose(self) -> ComposeResult:
        yield SessionHeader(id="header")
        yield ThresholdsRow(id="thresholds")
        yield WorkersRow(id="workers")
        with VerticalScroll(id="panels"):
            with Horizontal(id="row-top", classes="row"):
                yield ThroughputPanel(id="throughput", classes="narrow-half")
                yield LatencyPanel(id="latency", classes="wide-half")
            with Horizontal(id="row-middle", classes="row"):
                yield LatencyTrendPanel(id="latency-trend", classes="narrow-half")
                yield ConnectionsPanel(id="connections", classes="wide-half")
            with Horizontal(id="row-bottom", classes="row"):
                yield StepsPanel(id="steps", classes="wide-half")
                yield ErrorsPanel(id="errors", classes="narrow-half")
        yield Static(SCROLL_HINT, id="scroll-hint")
        yield FittedFooter()

    def on_mount(self) -> None:
        self.query_one(SessionHeader).runbook = self.label
        self.query_one(SessionHeader).planned_s = self.planned_s
        self.query_one(ThresholdsRow).states = self.thresholds
        self._fit(self.app.size.width, self.app.size.height)
        # what arrived before the widgets did (is_mounted is not yet true here)
        self.query_one(SessionHeader).asked = self.asked
        self._hand_down(self.snapshot)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "minimize":
            return self.maximized is not None  # "esc unzoom" only while a panel is zoomed
        return True

    def action_zoom(self) -> None:
        """Zoom the focused panel (tab moves the focus), or Connections; again to unzoom."""
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        panel = focused if isinstance(focused, Panel) else self.query_one(ConnectionsPanel)
        self.maximize(panel, container=False)
        panel.focus()  # its own keys (the ledger's `o`) work at once

    def watch_maximized(self) -> None:
        self.refresh_bindings()

    def _fit(self, width: int, height: int) -> None:
        self.set_class(width < NARROW_WIDTH, "-narrow")
        self.set_class(height < SHORT_HEIGHT, "-short")
        self.set_class(height >= TALL_HEIGHT and width >= NARROW_WIDTH, "-tall")
        self.query_one(FittedFooter).compact = width < NARROW_WIDTH

    def watch_thresholds(self, states: tuple[ThresholdState, ...]) -> None:
        if self.is_mounted:
            self.query_one(ThresholdsRow).states = states

    def watch_asked(self, asked: float | None) -> None:
        if self.is_mounted:
            self.query_one(SessionHeader).asked = asked

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if self.is_mounted:
            self._hand_down(snapshot)

    def _hand_down(self, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            return
        for header in self.query(SessionHeader):
            header.snapshot = snapshot
        for row in self.query(WorkersRow):
            row.snapshot = snapshot
        for panel in self.query(Panel):
            panel.snapshot = snapshot
