"""Connections: the pool right now, opens and closes per second, how well connections are
reused, what handshakes cost, why connections closed, the kernel's view of the sockets, and the
ledger of live connections (shown when the panel is zoomed)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from ...engine import Snapshot
from ...engine.transport.interfaces import ConnectionInfo
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
        self._ledger_layout: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield TextView(id="connections-numbers")
        yield TimeChart("line", id="connections-chart")
        yield TextView(id="connections-legend")
        yield TextView(id="ledger-title")
        yield DataTable(id="connections-ledger", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        self.border_title = "Connections"

    def on_resize(self) -> None:
        """The number lines and the ledger are fitted to the width: fit them again."""
        if self.snapshot is not None:
            self._show_numbers(self.snapshot)
            if self.has_class("-maximized"):
                self._fill_ledger(self.snapshot)

    def _show_numbers(self, snapshot: Snapshot) -> None:
        numbers = self.query_one("#connections-numbers", TextView)
        numbers.show(connection_numbers(snapshot, self.content_size.width or 200))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "sort_ledger":  # the ledger shows only in the zoomed panel; so does `o`
            return self.is_mounted and self.screen.maximized is self
        return True

    def action_sort_ledger(self) -> None:
        self._sort = LEDGER_SORTS[(LEDGER_SORTS.index(self._sort) + 1) % len(LEDGER_SORTS)]
        if self.snapshot is not None:
            self.show(self.snapshot)

    def show(self, snapshot: Snapshot) -> None:
        self._show_numbers(snapshot)
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
        wide = self.content_size.width >= WIDE_LEDGER
        columns = WIDE_COLUMNS if wide else NARROW_COLUMNS
        if columns != self._ledger_layout:  # a narrow panel gets short headers and values
            table.clear(columns=True)
            table.add_columns(*columns)
            self._ledger_layout = columns
        live = sorted(
            snapshot.connections.live,
            key=lambda c: c.requests if self._sort == "requests" else c.age_s,
            reverse=True,
        )
        table.clear()
        for conn in live:
            table.add_row(*(wide_row(conn) if wide else narrow_row(conn)))
        title = Text(f"live connections by {self._sort} ", style="bold")
        title.append("(o: change order)", style="dim")
        self.query_one("#ledger-title", TextView).show(title)


# The ledger's columns: every one fits the zoomed panel at 120 columns; below WIDE_LEDGER cells
# they get short headers, sizes in kB/MB, the protocol beside the runner and TLS beside connect,
# so that no number is cut or scrolled out of sight at 80 columns.
WIDE_LEDGER = 104
WIDE_COLUMNS = (
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
NARROW_COLUMNS = ("id", "runner", "port", "age", "req", "act", "idle", "sent", "recv", "conn/TLS")


def wide_row(conn: ConnectionInfo) -> tuple[str, ...]:
    return (
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


def narrow_row(conn: ConnectionInfo) -> tuple[str, ...]:
    protocol = "h2" if conn.protocol.startswith("HTTP/2") else "h1"
    handshake = ms(conn.connect_ms) + (f"/{ms(conn.tls_ms)}" if conn.tls_ms else "")
    return (
        str(conn.id),
        f"{conn.runner} {protocol}",
        str(conn.local_port),
        f"{conn.age_s:,.0f}s" if conn.age_s >= 100 else f"{conn.age_s:.1f}s",
        f"{conn.requests:,}",
        str(conn.in_flight),
        f"{conn.idle_s:.0f}s" if conn.idle_s >= 10 else f"{conn.idle_s:.1f}s",
        size(conn.bytes_sent),
        size(conn.bytes_received),
        handshake,
    )


def size(n: int) -> str:
    """Bytes in at most 6 cells: 512B, 3.3kB, 45MB, 1.2GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return f"{n}B"


Segment = tuple[str, str, str]  # (label, value, style); the label may be ""


def connection_numbers(snapshot: Snapshot, width: int = 200) -> Text:
    """Five lines of numbers. Each line is written with full labels if it fits `width`, else
    with short ones, else with values only where they still read: a number is never cut."""
    lines = [_pool_line(snapshot), _reuse_line(snapshot), _handshake_line(snapshot)]
    lines.append(_closed_line(snapshot))
    if snapshot.kernel is not None:
        lines.append(_kernel_line(snapshot))
    text = Text(no_wrap=True)
    for index, variants in enumerate(lines):
        if index:
            text.append("\n")
        text.append_text(fit(variants, width))
    return text


def fit(variants: list[list[Segment]], width: int) -> Text:
    """The first rendering of a line that fits, most labelled first; the last one as is."""
    rendered = [_render(segments) for segments in variants]
    return next((line for line in rendered if line.cell_len <= width), rendered[-1])


def _render(segments: list[Segment]) -> Text:
    text = Text()
    for label, value, style in segments:
        if label:
            text.append(f"{label} ", style="dim")
        if value:
            text.append(f"{value}  ", style=style)
    text.rstrip()
    return text


def _pool_line(snapshot: Snapshot) -> list[list[Segment]]:
    conns = snapshot.connections
    last = snapshot.timeline[-1] if snapshot.timeline else None
    per_second = last.opened if last else 0
    rate_style = "bold yellow" if per_second else "bold"
    connecting = (
        [("connecting", f"{conns.connecting:,}", "bold yellow")] if conns.connecting else []
    )
    full: list[Segment] = [
        ("open", f"{conns.open:,}", "bold"),
        ("active", f"{conns.active:,}", "bold green"),
        ("idle", f"{conns.idle:,}", "bold blue"),
        *connecting,
        ("│ opened", f"{conns.opened_total:,}", "bold"),
        ("", f"{per_second:,}/s", rate_style),
        ("peak", f"{conns.peak_open:,}", "bold"),
    ]
    short: list[Segment] = [
        ("open", f"{conns.open:,}", "bold"),
        ("act", f"{conns.active:,}", "bold green"),
        ("idle", f"{conns.idle:,}", "bold blue"),
        *[("conn…", value, style) for _, value, style in connecting],
        ("│ opened", compact(conns.opened_total), "bold"),
        ("", f"{compact(per_second)}/s", rate_style),
        ("peak", compact(conns.peak_open), "bold"),
    ]
    return [full, short]


def _reuse_line(snapshot: Snapshot) -> list[list[Segment]]:
    conns = snapshot.connections
    values = (
        number(conns.requests_per_connection_mean),
        percent(conns.new_ratio),
        percent(snapshot.handshake_time_share),
    )
    full = ("req/conn", "on new conns", "handshake share")
    short = ("req/conn", "new conns", "handshake")
    return [
        [(label, value, "bold") for label, value in zip(names, values, strict=True)]
        for names in (full, short)
    ]


def _handshake_line(snapshot: Snapshot) -> list[list[Segment]]:
    conns = snapshot.connections
    if not conns.connect_ms.count:
        return [[("connect", "– (none opened)", "dim")]]
    tls = conns.tls_ms
    if snapshot.http_version_in_use == "HTTP/3":  # one QUIC handshake: no TCP connect
        quic: list[Segment] = [("QUIC handshake p50", ms(tls.p50), "bold")]
        return [
            [*quic, ("p99", ms(tls.p99), "bold")],
            [("QUIC hs", f"{ms(tls.p50)}/{ms(tls.p99)}", "bold")],
        ]
    connect = conns.connect_ms
    full: list[Segment] = [
        ("connect p50", ms(connect.p50), "bold"),
        ("p99", ms(connect.p99), "bold"),
    ]
    short: list[Segment] = [("connect", f"{ms(connect.p50)}/{ms(connect.p99)}", "bold")]
    if conns.tls_ms.count:
        full += [("TLS p50", ms(tls.p50), "bold"), ("p99", ms(tls.p99), "bold")]
        short += [("TLS", f"{ms(tls.p50)}/{ms(tls.p99)}", "bold")]
    return [full, short]


def _closed_line(snapshot: Snapshot) -> list[list[Segment]]:
    closes = snapshot.connections.closed_by_reason
    if not closes:
        return [[("closed", "none", "bold")]]
    variants = []
    for shown in range(len(closes), 0, -1):  # fewer reasons before any count is cut
        segments: list[Segment] = [("closed", "", "")]
        segments += [(reason, f"{count:,}", "bold") for reason, count in closes[:shown]]
        if shown < len(closes):
            segments.append(("", f"+{len(closes) - shown} more", "dim"))
        variants.append(segments)
    return variants


def _kernel_line(snapshot: Snapshot) -> list[list[Segment]]:
    kernel = snapshot.kernel
    assert kernel is not None
    tw_style = "bold yellow" if kernel.total.time_wait else "bold"
    core: list[Segment] = [
        ("ESTAB", f"{kernel.total.established:,}", "bold"),
        ("TIME_WAIT", f"{kernel.total.time_wait:,}", tw_style),
        ("peak", f"{kernel.time_wait_peak:,}", "dim"),
    ]
    if kernel.total.close_wait:
        core.append(("CLOSE_WAIT", f"{kernel.total.close_wait:,}", "bold red"))
    extra: list[Segment] = []
    low, high = kernel.ephemeral_range
    if high:
        extra.append(
            ("ports", f"{compact(kernel.ephemeral_in_use)}/{compact(high - low + 1)}", "dim")
        )
    if kernel.fds_limit:
        extra.append(("fds", f"{compact(kernel.fds_open)}/{compact(kernel.fds_limit)}", "dim"))
    short = {"TIME_WAIT": "TW", "CLOSE_WAIT": "CW", "ESTAB": "EST"}
    brief = [(short.get(label, label), value, style) for label, value, style in core]
    return [
        [("kernel", "", ""), *core, *extra],
        [("kernel", "", ""), *brief, *extra],
        [*brief, *extra],
        brief,
    ]
