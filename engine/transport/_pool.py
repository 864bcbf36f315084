"""Connection pools for one origin.

HTTP/1.1: a stack of idle connections. Acquire pops, release pushes: O(1) whatever the size, and
no idle connection is closed while the pool holds fewer than `keep` (the concurrency). HTTP/2: up
to `h2_connections` multiplexed connections, streams spread across them.

On TLS with `HttpVersion.AUTO` the protocol is unknown until the first handshake; the first caller
opens one connection and the rest wait for its ALPN answer, so a session against an h2 server opens
exactly `h2_connections` connections, never one per concurrent caller.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque

import httpx

from loadscope.engine._config import CloseReason, HttpVersion
from loadscope.engine.transport._connect import AsyncConnector
from loadscope.engine.transport._errors import GoAway, PeerClosed, ProtocolError
from loadscope.engine.transport._h1 import AsyncHTTP11Connection
from loadscope.engine.transport._h2 import AsyncHTTP2Connection
from loadscope.engine.transport._serialize import h1_bytes, h2_headers, request_body
from loadscope.engine.transport._wire import RawResponse

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class _Protocol(enum.Enum):
    UNKNOWN = 0
    HTTP1 = 1
    HTTP2 = 2


class AsyncOriginPool:
    def __init__(
        self,
        connector: AsyncConnector,
        http_version: HttpVersion,
        *,
        keep: int,
        h2_connections: int = 1,
        reuse: bool = True,
        idle_timeout: float = 90.0,
    ) -> None:
        self._connector = connector
        self._http_version = http_version
        self.keep = max(keep, 1)
        self.h2_size = max(h2_connections, 1)
        self.reuse = reuse
        self.idle_timeout = idle_timeout
        self._protocol = self._known_protocol(connector, http_version)
        self._probe: asyncio.Future[None] | None = None
        self._idle: deque[AsyncHTTP11Connection] = deque()
        self._h2: list[AsyncHTTP2Connection] = []
        self._h2_opening = 0
        self._h2_waiters: deque[asyncio.Future[None]] = deque()
        self._retired: CloseReason | None = None
        self.cancel_reason = CloseReason.ERROR

    @staticmethod
    def _known_protocol(connector: AsyncConnector, version: HttpVersion) -> _Protocol:
        if connector.origin.is_tls:
            return _Protocol.HTTP1 if version is HttpVersion.HTTP1 else _Protocol.UNKNOWN
        return _Protocol.HTTP2 if version is HttpVersion.HTTP2 else _Protocol.HTTP1

    # -- the request path -------------------------------------------------------------------
    async def exchange(self, request: httpx.Request, timeout: float | None) -> RawResponse:
        started = time.perf_counter()
        if self._protocol is _Protocol.UNKNOWN:
            first = await self._learn_protocol()
            if first is not None:
                return await self._send_on(first, True, request, timeout, started)
        if self._protocol is _Protocol.HTTP2:
            return await self._exchange_h2(request, timeout, started)
        return await self._exchange_h1(request, timeout, started)

    async def _learn_protocol(self) -> AsyncHTTP11Connection | AsyncHTTP2Connection | None:
        """The first caller opens a connection; the others wait for the ALPN answer."""
        if self._probe is not None:
            await asyncio.shield(self._probe)
            return None
        self._probe = asyncio.get_running_loop().create_future()
        try:
            conn = await self._connector.open(self._http_version)
        except BaseException:
            probe, self._probe = self._probe, None
            probe.set_result(None)  # waiters retry and meet the error themselves
            raise
        if isinstance(conn, AsyncHTTP2Connection):
            self._protocol = _Protocol.HTTP2
            self._adopt_h2(conn)
        elif self._http_version is HttpVersion.HTTP2:
            conn.close(CloseReason.ERROR)
            self._probe.set_result(None)
            self._probe = None
            raise ProtocolError(f"{self._connector.origin} did not agree to HTTP/2 by ALPN")
        else:
            self._protocol = _Protocol.HTTP1
            conn.pool = self
        self._probe.set_result(None)
        return conn

    async def _send_on(
        self,
        conn: AsyncHTTP11Connection | AsyncHTTP2Connection,
        new: bool,
        request: httpx.Request,
        timeout: float | None,
        started: float,
    ) -> RawResponse:
        if isinstance(conn, AsyncHTTP2Connection):
            return await self._roundtrip_h2(conn, new, request, timeout, started)
        return await self._roundtrip_h1(conn, new, request, timeout, started)

    # -- HTTP/1.1 ---------------------------------------------------------------------------
    async def _exchange_h1(
        self, request: httpx.Request, timeout: float | None, started: float
    ) -> RawResponse:
        conn, new = await self._acquire_h1()
        try:
            return await self._roundtrip_h1(conn, new, request, timeout, started)
        except PeerClosed as exc:
            # A kept-alive connection the server closed just before we wrote: retry once, fresh.
            if new or not exc.before_response or request.method not in _IDEMPOTENT:
                raise
        conn = await self._open_h1()
        return await self._roundtrip_h1(conn, True, request, timeout, time.perf_counter())

    async def _acquire_h1(self) -> tuple[AsyncHTTP11Connection, bool]:
        idle = self._idle
        if idle and self.reuse:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if not conn.is_idle_usable:
                    continue
                if now - conn.last_used >= self._expiry(conn):
                    conn.close(CloseReason.KEEPALIVE_EXPIRY)
                    continue
                return conn, False
        return await self._open_h1(), True

    async def _open_h1(self) -> AsyncHTTP11Connection:
        conn = await self._connector.open(self._http_version)
        if isinstance(conn, AsyncHTTP2Connection):  # ALPN changed its mind: keep it anyway
            self._protocol = _Protocol.HTTP2
            self._adopt_h2(conn)
            raise PeerClosed("protocol changed to HTTP/2; retry", before_response=True)
        conn.pool = self
        return conn

    async def _roundtrip_h1(
        self,
        conn: AsyncHTTP11Connection,
        new: bool,
        request: httpx.Request,
        timeout: float | None,
        started: float,
    ) -> RawResponse:
        data = h1_bytes(request, close=not self.reuse)
        sent = time.perf_counter()
        try:
            raw = await conn.roundtrip(data, request.method == "HEAD", timeout)
        except asyncio.CancelledError:
            conn.close(self.cancel_reason)
            raise
        except BaseException:
            conn.close(CloseReason.ERROR)
            raise
        self._release_h1(conn)
        return _with_timings(raw, conn, new, started, sent)

    def _release_h1(self, conn: AsyncHTTP11Connection) -> None:
        if conn.closed:
            return
        if not conn.keep_alive:
            conn.close(CloseReason.CONNECTION_CLOSE if self.reuse else CloseReason.NO_REUSE)
        elif not self.reuse:
            conn.close(CloseReason.NO_REUSE)
        elif self._retired is not None:
            conn.close(self._retired)
        elif len(self._idle) >= self.keep and self._purge_dead() >= self.keep:
            conn.close(CloseReason.POOL_SHRINK)
        else:
            self._idle.append(conn)

    def _purge_dead(self) -> int:
        alive = [c for c in self._idle if c.is_idle_usable]
        if len(alive) != len(self._idle):
            self._idle = deque(alive)
        return len(self._idle)

    def _expiry(self, conn: AsyncHTTP11Connection | AsyncHTTP2Connection) -> float:
        hint = conn.keepalive_hint
        if hint is not None and hint > 0:
            # Leave the server's keep-alive a little early rather than race its close.
            return min(self.idle_timeout, max(hint - 0.5, hint * 0.9))
        return self.idle_timeout

    # -- HTTP/2 -----------------------------------------------------------------------------
    async def _exchange_h2(
        self, request: httpx.Request, timeout: float | None, started: float
    ) -> RawResponse:
        for attempt in range(3):
            conn, new = await self._acquire_h2()
            try:
                return await self._roundtrip_h2(conn, new, request, timeout, started)
            except GoAway as exc:
                if attempt == 2 or not (exc.unprocessed or request.method in _IDEMPOTENT):
                    raise
            except PeerClosed as exc:
                # The connection died before any byte of this response (often a reset that ate
                # the GOAWAY): like HTTP/1.1, retry an idempotent request elsewhere.
                if attempt == 2 or not exc.before_response or request.method not in _IDEMPOTENT:
                    raise
        raise AssertionError("unreachable")

    async def _acquire_h2(self) -> tuple[AsyncHTTP2Connection, bool]:
        """An idle connection if there is one; else a new one while fewer than `h2_size` exist;
        else the least busy connection with a free stream; else wait for one."""
        while True:
            if not self.reuse:
                return await self._open_h2(), True
            conn = self._pick_h2()
            if conn is not None and conn.streams_in_flight == 0:
                return conn, False
            if len(self._h2) + self._h2_opening < self.h2_size:
                return await self._open_h2(), True
            if conn is not None:
                return conn, False
            waiter = asyncio.get_running_loop().create_future()
            self._h2_waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    waiter.cancel()

    def _pick_h2(self) -> AsyncHTTP2Connection | None:
        """The usable connection with the fewest streams in flight (h2_size is small)."""
        best: AsyncHTTP2Connection | None = None
        stale = False
        for conn in self._h2:
            if not conn.usable:
                stale = True
            elif conn.has_capacity and (
                best is None or conn.streams_in_flight < best.streams_in_flight
            ):
                best = conn
        if stale:
            self._h2 = [c for c in self._h2 if c.usable]
        return best

    async def _open_h2(self) -> AsyncHTTP2Connection:
        self._h2_opening += 1
        try:
            conn = await self._connector.open(self._http_version)
        except BaseException:
            self._wake_h2_waiter()
            raise
        finally:
            self._h2_opening -= 1
        if not isinstance(conn, AsyncHTTP2Connection):
            conn.close(CloseReason.ERROR)
            raise ProtocolError(f"{self._connector.origin} did not agree to HTTP/2")
        if self.reuse:
            self._adopt_h2(conn)
        return conn

    def _adopt_h2(self, conn: AsyncHTTP2Connection) -> None:
        conn.pool = self
        conn.on_capacity = self._wake_h2_waiter
        self._h2.append(conn)

    def _wake_h2_waiter(self) -> None:
        while self._h2_waiters:
            waiter = self._h2_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _roundtrip_h2(
        self,
        conn: AsyncHTTP2Connection,
        new: bool,
        request: httpx.Request,
        timeout: float | None,
        started: float,
    ) -> RawResponse:
        headers = h2_headers(request)
        body = request_body(request)
        sent = time.perf_counter()
        try:
            raw = await conn.roundtrip(headers, body, timeout)
        except asyncio.CancelledError:
            if not self.reuse:
                conn.close(self.cancel_reason)
            raise
        finally:
            if not self.reuse:
                conn.close(CloseReason.NO_REUSE)
            elif self._retired is not None and conn.streams_in_flight == 0:
                conn.close(self._retired)
        return _with_timings(raw, conn, new, started, sent)

    # -- housekeeping -------------------------------------------------------------------------
    def resize(self, keep: int) -> None:
        """Keep at most `keep` idle HTTP/1.1 connections; close the oldest surplus now."""
        self.keep = max(keep, 1)
        self._purge_dead()
        while len(self._idle) > self.keep:
            self._idle.popleft().close(CloseReason.POOL_SHRINK)

    def sweep(self, now: float) -> None:
        """Close connections idle past their keep-alive expiry (oldest first)."""
        idle = self._idle
        while idle and (
            not idle[0].is_idle_usable or now - idle[0].last_used >= self._expiry(idle[0])
        ):
            conn = idle.popleft()
            if not conn.closed:
                conn.close(CloseReason.KEEPALIVE_EXPIRY)
        for conn in list(self._h2):
            idle_for = now - conn.last_used
            if conn.usable and conn.streams_in_flight == 0 and idle_for >= self._expiry(conn):
                conn.close(CloseReason.KEEPALIVE_EXPIRY)
        self._h2 = [c for c in self._h2 if c.usable]

    def retire(self, reason: CloseReason) -> None:
        """Close idle connections now, busy ones when their request ends; take no new work."""
        self._retired = reason
        while self._idle:
            self._idle.popleft().close(reason)
        for conn in self._h2:
            if conn.streams_in_flight == 0:
                conn.close(reason)
        self._h2 = [c for c in self._h2 if not c.closed]
        for waiter in self._h2_waiters:
            if not waiter.done():
                waiter.set_result(None)

    def close_idle(self, reason: CloseReason) -> None:
        """Close every idle connection (per-iteration mode at the end of an iteration)."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                conn.close(reason)
        for conn in self._h2:
            if conn.streams_in_flight == 0:
                conn.close(reason)
        self._h2 = [c for c in self._h2 if not c.closed]

    def connections(self) -> list[AsyncHTTP11Connection | AsyncHTTP2Connection]:
        return [*self._idle, *self._h2]


def _with_timings(
    raw: RawResponse,
    conn: AsyncHTTP11Connection | AsyncHTTP2Connection,
    new: bool,
    started: float,
    sent: float,
) -> RawResponse:
    raw.new_connection = new
    waited = int((sent - started) * 1e6)
    if new:
        raw.connect_us = conn.connect_us
        raw.tls_us = conn.tls_us
        waited = max(0, waited - conn.connect_us - conn.tls_us)
    raw.wait_us = waited
    if raw.first_byte:
        raw.ttfb_us = int((raw.first_byte - sent) * 1e6)
    return raw
