"""The connection ledger: every connection the engine opens, from handshake to close.

Live connections are kept by id; a closed one is folded into counters and histograms and kept in
a short ring of recent closes, so memory stays flat however long the session runs.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable

from .._config import CloseReason
from ..metrics import Histogram
from ..transport.interfaces import Connection, ConnectionInfo


class ConnectionLedger:
    """Satisfies the transport's `ConnectionObserver` protocol."""

    RECENT = 200

    def __init__(self) -> None:
        self.live: dict[int, Connection] = {}
        self._next_id = 1
        self.active = 0
        self.connecting = 0  # TCP or TLS handshakes under way
        # A byte per TCP port, set for every local port this session's connections used: how
        # the kernel view tells this session's sockets (TIME_WAIT included) from other clients'.
        self.local_ports = bytearray(65536)
        self.reset_counters()

    def reset_counters(self) -> None:
        # Connections open when the counters restart (after a warm-up, say) serve requests too.
        self.carried_over = len(self.live)
        self.opened_total = 0
        self.closed_total = 0
        self.closed_by_reason: Counter[str] = Counter()
        self.opened_tick = 0
        self.closed_tick = 0
        self.active = sum(1 for c in self.live.values() if c.in_flight)
        self.peak_open = len(self.live)
        self.requests_per_connection = Histogram()  # closed connections: requests served
        self.age_ms = Histogram()  # closed connections: lifetime
        self.connect_us = Histogram()
        self.tls_us = Histogram()
        self.recent_closed: deque[ConnectionInfo] = deque(maxlen=self.RECENT)
        self.keepalive_hints: Counter[float] = Counter()

    @property
    def open(self) -> int:
        return len(self.live)

    @property
    def idle(self) -> int:
        return len(self.live) - self.active

    def on_open(self, conn: Connection) -> None:
        conn.id = self._next_id
        self._next_id += 1
        self.live[conn.id] = conn
        self.local_ports[conn.local_port] = 1
        self.opened_total += 1
        self.opened_tick += 1
        if len(self.live) > self.peak_open:
            self.peak_open = len(self.live)
        self.connect_us.record(conn.connect_us)
        if conn.tls_us:
            self.tls_us.record(conn.tls_us)

    def on_lost_before_open(self, reason: CloseReason) -> None:
        self.opened_total += 1
        self.opened_tick += 1
        self._count_close(reason)
        self.requests_per_connection.record(0)
        self.age_ms.record(0)

    def on_active(self) -> None:
        self.active += 1

    def on_idle(self) -> None:
        self.active -= 1

    def on_keepalive_hint(self, seconds: float) -> None:
        self.keepalive_hints[seconds] += 1

    def on_close(self, conn: Connection, reason: CloseReason) -> None:
        if self.live.pop(conn.id, None) is None:
            return
        if conn.in_flight:
            self.active -= 1
        now = time.monotonic()
        conn.close_reason = reason
        self._count_close(reason)
        self.requests_per_connection.record(conn.requests)
        self.age_ms.record(int((now - conn.opened_at) * 1000))
        self.recent_closed.append(conn.info(now))

    def _count_close(self, reason: CloseReason) -> None:
        self.closed_total += 1
        self.closed_tick += 1
        self.closed_by_reason[reason.value] += 1

    def live_connections(self) -> Iterable[Connection]:
        return self.live.values()

    def take_tick(self) -> tuple[int, int]:
        """Connections opened and closed since the previous tick."""
        opened, closed = self.opened_tick, self.closed_tick
        self.opened_tick = self.closed_tick = 0
        return opened, closed
