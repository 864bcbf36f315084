"""Connections: the pool right now, opens and closes per second, how well connections are
reused, what handshakes cost, why connections closed, the kernel's view of the sockets, and the
ledger of live connections (shown when the panel is zoomed)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from loadscope.engine import Snapshot

from ..format import compact, ms, number, percent
from ._charts import Series
from .chart import TimeChart, legend
from .panel import Panel
from .text_view import TextView
from .throughput import markers_for

LEDGER_SORTS = ("requests", "age")


class ConnectionsPanel(Panel):
    BINDINGS = [Binding("o", "sort_ledger", "ledger order")]
    DEFAULT_CSS = """
    ConnectionsPanel #connections-numbers { height: 5; }
    ConnectionsPanel #connections-chart { height: 1fr; min-height: 4; }
    ConnectionsPanel #connections-ledger { display: none; height: 2fr; width: 100%; }
    ConnectionsPanel #ledger-title { display: none; }
    ConnectionsPanel.-maximized #connections-ledger { display: block; }
    ConnectionsPanel.-maximized #ledger-title { display: block; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sort = LEDGER_SORTS[0]

    def compose(self) -> ComposeResult:
        yield TextView(id="connections-numbers")
        yield TimeChart("line", id="connections-chart")
        yield TextView(id="connections-legend")
        yield TextView(id="ledger-title")
        yield DataTable(id="connections-ledger", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        self.border_title = "Connections"
        table = self.query_one(DataTable)
        table.add_columns(
            "id",
            "runner",
            "protocol",
            "local port",
            "age",
            "requests",
            "in flight",
            "idle",
            "sent",
            "received",
            "connect",
            "TLS",
        )

    def action_sort_ledger(self) -> None:
        self._sort = LEDGER_SORTS[(LEDGER_SORTS.index(self._sort) + 1) % len(LEDGER_SORTS)]
        if self.snapshot is not None:
            self.show(self.snapshot)

    def show(self, snapshot: Snapshot) -> None:
        self.query_one("#connections-numbers", TextView).show(connection_numbers(snapshot))
        timeline = snapshot.timeline
        t_end = timeline[-1].t if timeline else 0
        opened = Series([float(p.opened) for p in timeline], "green", "opened/s")
        closed = Series([float(p.closed) for p in timeline], "red", "closed/s")
        markers = [marker for marker, _ in markers_for(snapshot)]
        self.query_one(TimeChart).plot([closed, opened], t_end, markers)  # opened drawn on top
        self.query_one("#connections-legend", TextView).show(legend([opened, closed]))
        if self.has_class("-maximized"):
            self._fill_ledger(snapshot)

    def _fill_ledger(self, snapshot: Snapshot) -> None:
        table = self.query_one(DataTable)
        live = sorted(
            snapshot.connections.live,
            key=lambda c: c.requests if self._sort == "requests" else c.age_s,
            reverse=True,
        )
        table.clear()
        for conn in live:
            table.add_row(
                str(conn.id),
                conn.runner,
                conn.protocol,
                str(conn.local_port),
                f"{conn.age_s:,.1f}s",
                f"{conn.requests:,}",
                str(conn.in_flight),
                f"{conn.idle_s:.1f}s",
                f"{conn.bytes_sent:,}",
                f"{conn.bytes_received:,}",
                ms(conn.connect_ms),
                ms(conn.tls_ms) if conn.tls_ms else "–",
            )
        title = Text(f"live connections by {self._sort} ", style="bold")
        title.append("(o: change order)", style="dim")
        self.query_one("#ledger-title", TextView).show(title)


def connection_numbers(snapshot: Snapshot) -> Text:
    conns = snapshot.connections
    last = snapshot.timeline[-1] if snapshot.timeline else None
    text = Text(no_wrap=True)  # each line stays one line: the kernel line must stay in view
    _pair(text, "open", conns.open, "bold")
    _pair(text, "active", conns.active, "bold green")
    _pair(text, "idle", conns.idle, "bold blue")
    if conns.connecting:
        _pair(text, "connecting", conns.connecting, "bold yellow")
    text.append("│ ", style="dim")
    _pair(text, "opened", conns.opened_total, "bold")
    _pair(text, "/s", last.opened if last else 0, "bold yellow" if last and last.opened else "bold")
    _pair(text, "peak", conns.peak_open, "bold")
    text.append("\n")
    text.append("req/conn ", style="dim")
    text.append(number(conns.requests_per_connection_mean) + "  ", style="bold")
    text.append("on new conns ", style="dim")
    text.append(percent(conns.new_ratio) + "  ", style="bold")
    text.append("handshake share ", style="dim")
    text.append(percent(snapshot.handshake_time_share), style="bold")
    text.append("\n")
    text.append("connect ", style="dim")
    if conns.connect_ms.count:
        text.append(f"p50 {ms(conns.connect_ms.p50)} p99 {ms(conns.connect_ms.p99)}", style="bold")
    else:
        text.append("– (none opened)", style="dim")
    if conns.tls_ms.count:
        text.append("  TLS ", style="dim")
        text.append(f"p50 {ms(conns.tls_ms.p50)} p99 {ms(conns.tls_ms.p99)}", style="bold")
    text.append("\n")
    text.append("closed ", style="dim")
    closes = conns.closed_by_reason
    text.append(
        "  ".join(f"{reason} {count:,}" for reason, count in closes) if closes else "none",
        style="bold",
    )
    kernel = snapshot.kernel
    if kernel is not None:
        text.append("\n")
        text.append("kernel ", style="dim")
        text.append(f"ESTAB {kernel.total.established:,}  ", style="bold")
        tw_style = "bold yellow" if kernel.total.time_wait else "bold"
        text.append(f"TIME_WAIT {kernel.total.time_wait:,} ", style=tw_style)
        text.append(f"(peak {kernel.time_wait_peak:,})  ", style="dim")
        if kernel.total.close_wait:
            text.append(f"CLOSE_WAIT {kernel.total.close_wait:,}  ", style="bold red")
        low, high = kernel.ephemeral_range
        if high:
            ports = f"{compact(kernel.ephemeral_in_use)}/{compact(high - low + 1)}"
            text.append(f"ports {ports}  ", style="dim")
        if kernel.fds_limit:
            text.append(f"fds {compact(kernel.fds_open)}/{compact(kernel.fds_limit)}", style="dim")
    return text


def _pair(text: Text, label: str, value: int, style: str) -> None:
    text.append(f"{label} ", style="dim")
    text.append(f"{value:,}  ", style=style)
