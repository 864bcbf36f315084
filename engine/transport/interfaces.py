"""The connection interface, in the spirit of httpcore's `interfaces.py`.

`Connection` is what a pool holds: it sends a `RawRequest` itself (serialisation stays behind
the interface) and says whether it can take another request. `ConnectionObserver` is what a
connection reports to: the session's ledger satisfies it structurally, so the transport never
imports the diagnostics layer above it.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from .._config import CloseReason
from ._wire import RawRequest, RawResponse

# httpx request extension (the httpx client's path): False streams the body and only counts it
KEEP_BODY = "loadscope.keep_body"
DEFAULT_MAX_BODY = 64 * 1024 * 1024
DEFAULT_MAX_HEADER_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Plain data about one connection, for snapshots and reports."""

    id: int
    runner: str
    origin: str
    protocol: str
    local_port: int
    age_s: float
    requests: int
    in_flight: int
    idle_s: float
    bytes_sent: int
    bytes_received: int
    connect_ms: float
    tls_ms: float
    close_reason: str | None = None


class Network(Protocol):
    """Where connections come from: the loop's TCP by default (`AsyncioNetwork`); tests give an
    in-memory one that scripts the peer's bytes."""

    async def connect_tcp(
        self, host: str, port: int, protocol: Callable[[], asyncio.Protocol]
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        """A connected transport to `host:port` driving the protocol that `protocol` makes."""


class AsyncioNetwork:
    """TCP through the running loop."""

    async def connect_tcp(
        self, host: str, port: int, protocol: Callable[[], asyncio.Protocol]
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        return await asyncio.get_running_loop().create_connection(protocol, host, port)


class ConnectionObserver(Protocol):
    """What connections and connectors report to (the session's connection ledger)."""

    connecting: int  # TCP or TLS handshakes under way

    def on_open(self, conn: Connection) -> None:
        """A connection is ready to carry requests (and gets its id here)."""

    def on_lost_before_open(self, reason: CloseReason) -> None:
        """A TCP handshake completed but the connection died before it could carry a request
        (reset at once, TLS failed or timed out): opened and closed in one go."""

    def on_active(self) -> None:
        """A connection went from no request in flight to one."""

    def on_idle(self) -> None:
        """A connection went from requests in flight to none."""

    def on_keepalive_hint(self, seconds: float) -> None: ...

    def on_close(self, conn: Connection, reason: CloseReason) -> None: ...

    def live_connections(self) -> Iterable[Connection]:
        """Every connection opened and not yet closed."""


class Connection(abc.ABC):
    """One connection to one origin, whatever the protocol."""

    __slots__ = (
        "bytes_received",
        "bytes_sent",
        "close_reason",
        "closed",
        "connect_us",
        "id",
        "in_flight",
        "keepalive_hint",
        "last_used",
        "local_port",
        "max_body",
        "max_header_size",
        "observer",
        "on_capacity",
        "opened_at",
        "origin",
        "protocol",
        "requests",
        "runner",
        "single_use",
        "tls_us",
    )

    # True: many requests at once (HTTP/2 streams); False: one request at a time (HTTP/1.1).
    multiplexed: ClassVar[bool] = False

    def __init__(
        self,
        observer: ConnectionObserver,
        runner: str,
        origin: str,
        protocol: str,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.observer = observer
        self.runner = runner
        self.origin = origin
        self.protocol = protocol
        self.max_body = max_body  # bodies kept for the caller stop here (body_too_large)
        self.max_header_size = DEFAULT_MAX_HEADER_SIZE  # a response's header block (bytes)
        self.id = 0
        self.local_port = 0
        self.opened_at = time.monotonic()
        self.last_used = self.opened_at
        self.connect_us = 0
        self.tls_us = 0
        self.requests = 0
        self.in_flight = 0  # requests sent and not yet answered
        self.bytes_sent = 0
        self.bytes_received = 0
        self.keepalive_hint: float | None = None
        self.closed = False
        self.close_reason: CloseReason | None = None
        self.single_use = False  # ask the server to close after this request (no reuse)
        # Called when the connection may take another request (a stream ended, it closed).
        self.on_capacity: Callable[[], None] | None = None

    @abc.abstractmethod
    async def send(self, request: RawRequest, timeout: float | None) -> RawResponse:
        """Send `request` and wait for its whole response (or, unless the request keeps its
        body, for its end, counting the body's bytes)."""

    @property
    @abc.abstractmethod
    def usable(self) -> bool:
        """Open and willing to take requests now or later (no `Connection: close`, no GOAWAY)."""

    @abc.abstractmethod
    def is_available(self) -> bool:
        """Can take one more request right now."""

    def is_idle(self) -> bool:
        return self.in_flight == 0

    @abc.abstractmethod
    def close(self, reason: CloseReason) -> None: ...

    @abc.abstractmethod
    async def wait_closed(self, timeout: float = 1.0) -> None: ...

    def info(self, now: float) -> ConnectionInfo:
        return ConnectionInfo(
            id=self.id,
            runner=self.runner,
            origin=self.origin,
            protocol=self.protocol,
            local_port=self.local_port,
            age_s=round(now - self.opened_at, 3),
            requests=self.requests,
            in_flight=self.in_flight,
            idle_s=round(now - self.last_used, 3) if self.in_flight == 0 else 0.0,
            bytes_sent=self.bytes_sent,
            bytes_received=self.bytes_received,
            connect_ms=self.connect_us / 1000,
            tls_ms=self.tls_us / 1000,
            close_reason=self.close_reason.value if self.close_reason else None,
        )
