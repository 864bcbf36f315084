"""`loadscope watch HOST:PORT`: the kernel's view of one port, live, with no load of our own.

For the churn that another client (another load tool, an application) causes against a server:
new connections per second, and sockets by TCP state on both ends.
"""

from __future__ import annotations

import asyncio
from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from ...engine.diagnostics.kernel import LOOKS_PER_SECOND, SocketWatcher, WatchSample
from ..format import clock, compact
from ..widgets import Series
from ..widgets.chart import TimeChart, legend
from ..widgets.text_view import TextView

HISTORY = 3600  # one hour of seconds for the charts; older samples are dropped


class WatchScreen(Screen[None]):
    CSS_PATH = "watch.tcss"
    BINDINGS = [Binding("q", "app.quit", "quit"), Binding("r", "reset_peaks", "reset peaks")]

    def __init__(
        self,
        watcher: SocketWatcher,
        run_for: float | None = None,
        samples: deque[WatchSample] | None = None,
    ) -> None:
        super().__init__()
        self.watcher = watcher
        self.run_for = run_for
        self.samples: deque[WatchSample] = samples if samples is not None else deque(maxlen=HISTORY)
        self._peak_new = 0.0
        self._reads = 0  # reads since the start: every LOOKS_PER_SECOND-th is a poll

    def compose(self) -> ComposeResult:
        yield TextView(id="watch-header")
        with Horizontal(id="watch-row"):
            with Vertical(id="watch-new", classes="watch-panel"):
                yield TextView(id="watch-new-numbers")
                yield TimeChart("area", id="watch-new-chart")
            with Vertical(id="watch-states", classes="watch-panel"):
                yield TextView(id="watch-state-numbers")
                yield TimeChart("line", id="watch-state-chart")
                yield TextView(id="watch-state-legend")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#watch-new").border_title = "New connections per second"
        self.query_one("#watch-states").border_title = "Sockets by state (both ends)"
        self._show_header(None)
        self.set_interval(1.0 / LOOKS_PER_SECOND, self.read)

    async def read(self) -> None:
        """LOOKS_PER_SECOND reads a second: the last of each second a poll, which shows the
        second; the others looks, whose finds that poll counts (see SocketWatcher)."""
        self._reads += 1
        if self._reads % LOOKS_PER_SECOND:
            await asyncio.to_thread(self.watcher.look)
        else:
            await self.poll()

    async def poll(self) -> None:
        sample = await asyncio.to_thread(self.watcher.poll)
        if sample is None:
            return
        self.samples.append(sample)
        self.show(sample)
        if self.run_for is not None and sample.elapsed_s >= self.run_for:
            self.app.exit(0)

    def action_reset_peaks(self) -> None:
        self._peak_new = 0.0
        self.notify("peaks reset", timeout=1.5)

    def show(self, sample: WatchSample) -> None:
        self._show_header(sample)
        rates = [s.new_per_second or 0.0 for s in self.samples]
        self._peak_new = max(self._peak_new, rates[-1] if rates else 0.0)
        t_end = sample.elapsed_s
        self.query_one("#watch-new-chart", TimeChart).plot(
            [Series(rates, "yellow", "new/s")], t_end
        )
        self.query_one("#watch-new-numbers", TextView).show(_new_numbers(sample, self._peak_new))
        states = [
            Series([float(s.counts.established) for s in self.samples], "green", "ESTABLISHED"),
            Series([float(s.counts.time_wait) for s in self.samples], "yellow", "TIME_WAIT"),
        ]
        self.query_one("#watch-state-chart", TimeChart).plot(states, t_end)
        self.query_one("#watch-state-numbers", TextView).show(_state_numbers(sample))
        self.query_one("#watch-state-legend", TextView).show(legend(states))

    def _show_header(self, sample: WatchSample | None) -> None:
        text = Text()
        text.append(" loadscope watch ", style="bold reverse")
        text.append(f" {self.watcher.label} ", style="bold cyan")
        text.append(" │ ", style="dim")
        if sample is None:
            text.append("reading the kernel's socket table…", style="dim")
        else:
            text.append(clock(sample.elapsed_s), style="bold")
            text.append(" │ ", style="dim")
            text.append(f"source {sample.source}", style="dim")
            text.append(" │ ", style="dim")
            text.append("no load of our own: watching only", style="dim")
        self.query_one("#watch-header", TextView).show(text)


def _new_numbers(sample: WatchSample, peak: float) -> Text:
    text = Text()
    rate = sample.new_per_second or 0.0
    text.append(f"{compact(rate)} ", style="bold yellow" if rate else "bold")
    text.append("new/s now   ", style="dim")
    text.append(f"{compact(peak)} ", style="bold")
    text.append("peak   ", style="dim")
    text.append(f"{sample.total_new:,} ", style="bold")
    text.append("total", style="dim")
    return text


def _state_numbers(sample: WatchSample) -> Text:
    counts = sample.counts
    text = Text()
    rows = (
        (
            ("ESTABLISHED", counts.established, "bold green"),
            ("TIME_WAIT", counts.time_wait, "bold yellow" if counts.time_wait else "bold"),
        ),
        (
            ("CLOSE_WAIT", counts.close_wait, "bold red" if counts.close_wait else "bold"),
            ("SYN_SENT", counts.syn_sent, "bold"),
            ("other", counts.other, "bold"),
        ),
    )
    for row in rows:
        for label, value, style in row:
            text.append(f"{label} ", style="dim")
            text.append(f"{value:,}  ", style=style)
        text.append("\n")
    text.append("TIME_WAIT peak ", style="dim")
    text.append(f"{sample.time_wait_peak:,}  ", style="bold")
    low, high = sample.ephemeral_range
    if high >= low > 0:
        text.append("ephemeral ports in use ", style="dim")
        text.append(f"{sample.ephemeral_in_use:,}/{high - low + 1:,}", style="bold")
    return text
