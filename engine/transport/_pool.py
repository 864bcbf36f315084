"""Connection pools for one origin, written against the `Connection` interface.

Two small strategies, chosen by what the connection says it is (`Connection.multiplexed`):
- exclusive (one request at a time, HTTP/1.1): a stack of idle connections. Acquire pops, release
  pushes: O(1) whatever the size, and no idle connection is closed while the pool holds fewer
  than `keep` (the concurrency);
- multiplexed (HTTP/2): up to `h2_connections` connections, each request on the least busy one.

On TLS with `HttpVersion.AUTO` the protocol is unknown until the first handshake; the first caller
opens one connection and the rest wait for its ALPN answer, so a session against an h2 server opens
exactly `h2_connections` connections, never one per concurrent caller. A probe that fails or
outlasts the connect timeout releases its waiters, and each then connects for itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Protocol

from .._config import CloseReason, HttpVersion
from ._connect import AsyncConnector
from ._errors import GoAway, PeerClosed, ProtocolError
from ._wire import RawRequest, RawResponse
from .interfaces import Connection

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class _Strategy(Protocol):
    """How a pool hands out and takes back connections of one kind."""

    multiplexed: bool
    attempts: int  # sends per request, retries included
    retry_new: bool  # may a request that failed on a brand-new connection be retried?

    async def acquire(self, fresh: bool) -> tuple[Connection, bool]:
        """A connection for one request, and whether it is new."""

    def adopt(self, conn: Connection) -> None:
        """Take in a connection opened outside `acquire` (the protocol probe)."""

    def release(self, conn: Connection) -> None:
        """The request on `conn` completed."""

    def fail(self, conn: Connection, reason: CloseReason | None) -> None:
        """The request on `conn` failed; `reason` is set when it was cancelled."""

    def resize(self) -> None: ...

    def sweep(self, now: float) -> None: ...

    def close_idle(self, reason: CloseReason) -> None: ...

    def retire(self, reason: CloseReason) -> None: ...

    def connections(self) -> list[Connection]: ...


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
        self.retired: CloseReason | None = None
        self.cancel_reason = CloseReason.ERROR
        self._probe: asyncio.Future[None] | None = None
        self._strategy: _Strategy | None = self._known_strategy()

    def _known_strategy(self) -> _Strategy | None:
        """The strategy when configuration decides the protocol; None until ALPN tells."""
        version = self._http_version
        if version is HttpVersion.HTTP3:
            return _Multiplexed(self)
        if self._connector.origin.is_tls:
            return _Exclusive(self) if version is HttpVersion.HTTP1 else None
        return _Multiplexed(self) if version is HttpVersion.HTTP2 else _Exclusive(self)

    def _strategy_for(self, conn: Connection) -> _Strategy:
        """The current strategy if it suits `conn`, else a new one (ALPN changed its answer)."""
        strategy = self._strategy
        if strategy is not None and strategy.multiplexed is conn.multiplexed:
            return strategy
        if strategy is not None:
            strategy.close_idle(CloseReason.MODE_SWITCH)
        strategy = self._strategy = _Multiplexed(self) if conn.multiplexed else _Exclusive(self)
        return strategy

    # -- the request path -------------------------------------------------------------------
    async def exchange(self, request: RawRequest, timeout: float | None) -> RawResponse:
        started = time.perf_counter()
        strategy = self._strategy
        if strategy is None:
            first = await self._learn_protocol()
            if first is not None:
                return await self._send(first, True, request, timeout, started)
            strategy = self._strategy
            if strategy is None:  # the probe failed or hangs: connect for ourselves
                return await self._send(await self.open(), True, request, timeout, started)
        attempt = 1
        conn, new = await strategy.acquire(False)
        while True:
            try:
                return await self._send(conn, new, request, timeout, started)
            except PeerClosed as exc:  # GoAway is not one: it retries even after a response
                if attempt >= strategy.attempts or not _may_retry(exc, request, new, strategy):
                    raise
            except GoAway as exc:
                if attempt >= strategy.attempts or not (exc.unprocessed or _idempotent(request)):
                    raise
            attempt += 1
            conn, new = await strategy.acquire(True)
            started = time.perf_counter()

    async def _send(
        self,
        conn: Connection,
        new: bool,
        request: RawRequest,
        timeout: float | None,
        started: float,
    ) -> RawResponse:
        sent = time.perf_counter()
        try:
            raw = await conn.send(request, timeout)
        except asyncio.CancelledError:
            self._settle(conn).fail(conn, self.cancel_reason)
            raise
        except BaseException:
            self._settle(conn).fail(conn, None)
            raise
        self._settle(conn).release(conn)
        return _with_timings(raw, conn, new, started, sent)

    def _settle(self, conn: Connection) -> _Strategy:
        strategy = self._strategy
        if strategy is None or strategy.multiplexed is not conn.multiplexed:
            return _ORPHANS  # its strategy was replaced while the request ran
        return strategy

    async def _learn_protocol(self) -> Connection | None:
        """The first caller opens a connection; the others wait for the ALPN answer."""
        probe = self._probe
        if probe is not None:
            with contextlib.suppress(TimeoutError):  # then connect for ourselves
                await asyncio.wait_for(asyncio.shield(probe), self._connector.connect_timeout)
            return None
        probe = self._probe = asyncio.get_running_loop().create_future()
        try:
            return await self.open()
        finally:
            self._probe = None
            probe.set_result(None)  # on failure the waiters retry and meet the error themselves

    async def open(self) -> Connection:
        """A new connection, adopted by the strategy its protocol calls for."""
        conn = await self._connector.open(self._http_version)
        if self._http_version is HttpVersion.HTTP2 and not conn.multiplexed:
            conn.close(CloseReason.ERROR)
            raise ProtocolError(f"{self._connector.origin} did not agree to HTTP/2 by ALPN")
        conn.single_use = not self.reuse
        self._strategy_for(conn).adopt(conn)
        return conn

    def expiry(self, conn: Connection) -> float:
        hint = conn.keepalive_hint
        if hint is not None and hint > 0:
            # Leave the server's keep-alive a little early rather than race its close.
            return min(self.idle_timeout, max(hint - 0.5, hint * 0.9))
        return self.idle_timeout

    # -- housekeeping -------------------------------------------------------------------------
    def resize(self, keep: int) -> None:
        """Keep at most `keep` idle connections; close the oldest surplus now."""
        self.keep = max(keep, 1)
        if self._strategy is not None:
            self._strategy.resize()

    def sweep(self, now: float) -> None:
        """Close idle connections past their keep-alive expiry."""
        if self._strategy is not None:
            self._strategy.sweep(now)

    def retire(self, reason: CloseReason) -> None:
        """Close idle connections now, busy ones when their request ends; take no new work."""
        self.retired = reason
        if self._strategy is not None:
            self._strategy.retire(reason)

    def close_idle(self, reason: CloseReason) -> None:
        """Close every idle connection (per-iteration mode at the end of an iteration)."""
        if self._strategy is not None:
            self._strategy.close_idle(reason)

    def connections(self) -> list[Connection]:
        return self._strategy.connections() if self._strategy is not None else []


class _Exclusive:
    """One request per connection at a time: a LIFO stack of idle connections."""

    multiplexed = False
    attempts = 2
    retry_new = False  # a fresh connection that fails says something about the server

    def __init__(self, pool: AsyncOriginPool) -> None:
        self._pool = pool
        self._idle: deque[Connection] = deque()

    async def acquire(self, fresh: bool) -> tuple[Connection, bool]:
        pool = self._pool
        idle = self._idle
        if idle and pool.reuse and not fresh:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if not conn.is_available():
                    continue
                if now - conn.last_used >= pool.expiry(conn):
                    conn.close(CloseReason.KEEPALIVE_EXPIRY)
                    continue
                return conn, False
        return await pool.open(), True

    def adopt(self, conn: Connection) -> None:
        pass  # it joins the idle stack when its first request completes

    def release(self, conn: Connection) -> None:
        pool = self._pool
        if conn.closed:
            return
        if not conn.usable:
            conn.close(CloseReason.CONNECTION_CLOSE if pool.reuse else CloseReason.NO_REUSE)
        elif not pool.reuse:
            conn.close(CloseReason.NO_REUSE)
        elif pool.retired is not None:
            conn.close(pool.retired)
        elif len(self._idle) >= pool.keep and self._purge_dead() >= pool.keep:
            conn.close(CloseReason.POOL_SHRINK)
        else:
            self._idle.append(conn)

    def fail(self, conn: Connection, reason: CloseReason | None) -> None:
        conn.close(reason or CloseReason.ERROR)

    def _purge_dead(self) -> int:
        alive = [c for c in self._idle if c.is_available()]
        if len(alive) != len(self._idle):
            self._idle = deque(alive)
        return len(self._idle)

    def resize(self) -> None:
        self._purge_dead()
        while len(self._idle) > self._pool.keep:
            self._idle.popleft().close(CloseReason.POOL_SHRINK)

    def sweep(self, now: float) -> None:
        idle = self._idle
        expiry = self._pool.expiry
        while idle and (not idle[0].is_available() or now - idle[0].last_used >= expiry(idle[0])):
            conn = idle.popleft()
            if not conn.closed:
                conn.close(CloseReason.KEEPALIVE_EXPIRY)

    def close_idle(self, reason: CloseReason) -> None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                conn.close(reason)

    def retire(self, reason: CloseReason) -> None:
        self.close_idle(reason)

    def connections(self) -> list[Connection]:
        return list(self._idle)


class _Multiplexed:
    """Many requests per connection: up to `h2_size` connections, the least busy one first."""

    multiplexed = True
    attempts = 3
    retry_new = True

    def __init__(self, pool: AsyncOriginPool) -> None:
        self._pool = pool
        self._conns: list[Connection] = []
        self._opening = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self, fresh: bool) -> tuple[Connection, bool]:
        """An idle connection if there is one; else a new one while fewer than `h2_size` exist;
        else the least busy connection with a free stream; else wait for one."""
        pool = self._pool
        while True:
            if not pool.reuse:
                return await pool.open(), True
            conn = self._least_busy()
            if conn is not None and conn.is_idle():
                return conn, False
            if len(self._conns) + self._opening < pool.h2_size:
                return await self._open(), True
            if conn is not None:
                return conn, False
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    waiter.cancel()

    def _least_busy(self) -> Connection | None:
        """The available connection with the fewest requests in flight (h2_size is small)."""
        best: Connection | None = None
        stale = False
        for conn in self._conns:
            if not conn.usable:
                stale = True
            elif conn.is_available() and (best is None or conn.in_flight < best.in_flight):
                best = conn
        if stale:
            self._conns = [c for c in self._conns if c.usable]
        return best

    async def _open(self) -> Connection:
        self._opening += 1
        try:
            return await self._pool.open()
        except BaseException:
            self._wake_one()
            raise
        finally:
            self._opening -= 1

    def adopt(self, conn: Connection) -> None:
        if self._pool.reuse:
            conn.on_capacity = self._wake_one
            self._conns.append(conn)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def release(self, conn: Connection) -> None:
        pool = self._pool
        if not pool.reuse:
            conn.close(CloseReason.NO_REUSE)
        elif pool.retired is not None and conn.is_idle():
            conn.close(pool.retired)

    def fail(self, conn: Connection, reason: CloseReason | None) -> None:
        if reason is not None and not self._pool.reuse:
            conn.close(reason)
        self.release(conn)

    def resize(self) -> None:
        pass  # h2_size, not the concurrency, bounds multiplexed connections

    def sweep(self, now: float) -> None:
        expiry = self._pool.expiry
        for conn in list(self._conns):
            if conn.usable and conn.is_idle() and now - conn.last_used >= expiry(conn):
                conn.close(CloseReason.KEEPALIVE_EXPIRY)
        self._conns = [c for c in self._conns if c.usable]

    def close_idle(self, reason: CloseReason) -> None:
        for conn in self._conns:
            if conn.is_idle():
                conn.close(reason)
        self._conns = [c for c in self._conns if not c.closed]

    def retire(self, reason: CloseReason) -> None:
        self.close_idle(reason)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def connections(self) -> list[Connection]:
        return list(self._conns)


class _Orphans:
    """Settles requests whose connection's strategy was replaced: close once idle."""

    multiplexed = False
    attempts = 1
    retry_new = False

    async def acquire(self, fresh: bool) -> tuple[Connection, bool]:
        raise AssertionError("orphaned connections are never handed out")

    def adopt(self, conn: Connection) -> None:
        pass

    def release(self, conn: Connection) -> None:
        if conn.is_idle():
            conn.close(CloseReason.MODE_SWITCH)

    def fail(self, conn: Connection, reason: CloseReason | None) -> None:
        self.release(conn)

    def resize(self) -> None:
        pass

    def sweep(self, now: float) -> None:
        pass

    def close_idle(self, reason: CloseReason) -> None:
        pass

    def retire(self, reason: CloseReason) -> None:
        pass

    def connections(self) -> list[Connection]:
        return []


_ORPHANS = _Orphans()


def _idempotent(request: RawRequest) -> bool:
    return request.method in _IDEMPOTENT


def _may_retry(exc: PeerClosed, request: RawRequest, new: bool, strategy: _Strategy) -> bool:
    """A connection that died before any byte of the response (a kept-alive connection the
    server closed just before we wrote, a reset that ate a GOAWAY): retry an idempotent request
    on a fresh connection."""
    return exc.before_response and _idempotent(request) and (strategy.retry_new or not new)


def _with_timings(
    raw: RawResponse, conn: Connection, new: bool, started: float, sent: float
) -> RawResponse:
    raw.new_connection = new
    raw.connection_id = conn.id
    waited = int((sent - started) * 1e6)
    if new:
        raw.connect_us = conn.connect_us
        raw.tls_us = conn.tls_us
        waited = max(0, waited - conn.connect_us - conn.tls_us)
    raw.wait_us = waited
    if raw.first_byte:
        raw.ttfb_us = int((raw.first_byte - sent) * 1e6)
    return raw
