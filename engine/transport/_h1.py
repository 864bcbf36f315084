"""HTTP/1.1 connections: an asyncio protocol around the llhttp parser (httptools).

One request at a time per connection. A request is serialized once and cached (see `_serialize`),
so the hot path is a single `transport.write` and a parser fed from `data_received`. Bodies the
request does not keep are counted as they arrive and dropped.
"""

from __future__ import annotations

import asyncio
import time

import httptools

from .._config import CloseReason
from ._deadlines import Deadlines, deadlines_for
from ._errors import (
    BodyTooLarge,
    ConnectionReset,
    HeaderTooLarge,
    PeerClosed,
    ProtocolError,
    ReadTimeout,
    is_reset,
)
from ._handoff import Handoff, handoff_for
from ._serialize import h1_bytes
from ._wire import RawRequest, RawResponse, parse_keepalive_timeout
from .interfaces import (
    DEFAULT_MAX_BODY,
    Connection,
    ConnectionObserver,
)

_HTTP11 = b"HTTP/1.1"
_DETACHED_PARSER = httptools.HttpResponseParser(None)  # a closed connection's: bound to nothing


class AsyncHTTP11Connection(Connection, asyncio.Protocol):
    __slots__ = (
        "_body",
        "_body_size",
        "_deadlines",
        "_drain",
        "_first_byte",
        "_handoff",
        "_head_only",
        "_head_raw",
        "_head_size",
        "_headers",
        "_keep_body",
        "_loop",
        "_lost",
        "_message_done",
        "_parser",
        "_reset_parser",
        "_status",
        "_transport",
        "_waiter",
        "keep_alive",
        "proxy_form",
    )

    multiplexed = False

    def __init__(
        self,
        observer: ConnectionObserver,
        runner: str,
        origin: str,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        Connection.__init__(self, observer, runner, origin, "HTTP/1.1", max_body)
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[RawResponse] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._keep_body = True
        self._status = 0
        self._first_byte = 0.0
        self._head_only = False
        self._head_size = 0  # bytes of the header fields parsed so far
        self._head_raw = 0  # bytes received while the header block had not ended
        self._reset_parser = False
        self._message_done = False
        self._drain: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._handoff: Handoff | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: Deadlines | None = None
        self.keep_alive = True
        # Through a proxy on plain HTTP: requests go in absolute form with these header lines
        # (Proxy-Authorization, or none); None: origin form.
        self.proxy_form: bytes | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        # Kept: on Python 3.11 each get_running_loop() costs a getpid() system call.
        loop = self._loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._handoff = handoff_for(loop)
        self._deadlines = deadlines_for(loop)

    def data_received(self, data: bytes) -> None:
        self.bytes_received += len(data)
        if self._waiter is None:
            # Bytes on an idle connection: the server is out of step; drop the connection.
            self.close(CloseReason.ERROR)
            return
        if not self._first_byte:
            self._first_byte = time.perf_counter()
        reading_head = not self._status
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"invalid HTTP/1.1 response: {exc}"))
            self.close(CloseReason.ERROR)
            return
        if reading_head and not self._status:
            # Still no end of the header block: count it, so that endless header lines (or one
            # endless line, which the parser holds until it ends) cannot grow without bound.
            self._head_raw += len(data)
            if self._head_raw > self.max_header_size:
                self._header_too_large()
                return
        if self._reset_parser:
            self._reset_parser = False
            self._parser = httptools.HttpResponseParser(self)

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        reset = is_reset(exc)
        if self._waiter is not None and not self._waiter.done():
            if exc is None and self._status and not self._message_done and self._reads_to_eof():
                self._complete()
            else:
                self._fail(self._lost_error(reset))
        if not self.closed:
            self.closed = True
            self.close_reason = _lost_reason(exc, reset)
            self.observer.on_close(self, self.close_reason)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        # The parser holds this protocol's callbacks, and the transport this protocol: let both
        # go, or each closed connection waits for the cyclic collector.
        self._parser = _DETACHED_PARSER
        self._transport = None

    def _lost_error(self, reset: bool) -> PeerClosed:
        before = not self._first_byte
        if reset:
            return ConnectionReset("connection reset by peer", before_response=before)
        return PeerClosed("server closed the connection", before_response=before)

    def pause_writing(self) -> None:
        self._drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    # -- httptools callbacks ----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_size > self.max_header_size:
            self._header_too_large()
            return
        self._headers.append((name, value))
        if len(name) == 10 and name.lower() == b"keep-alive":
            hint = parse_keepalive_timeout(value)
            if hint is not None and hint != self.keepalive_hint:
                self.keepalive_hint = hint
                self.observer.on_keepalive_hint(hint)

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        if self._head_only or self._status in (204, 304):
            self._reset_parser = True
            self._complete()

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if not self._keep_body:
            return
        if self._body_size > self.max_body:
            self._keep_body = False
            self._body = []
            self._fail(BodyTooLarge(f"response body larger than {self.max_body} bytes"))
            self.close(CloseReason.ERROR)
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._message_done:
            return
        if 100 <= self._status < 200:  # interim response: wait for the final one
            self._headers = []
            self._status = 0
            self._head_size = self._head_raw = 0
            return
        self._complete()

    # -- requests ---------------------------------------------------------------------------
    @property
    def usable(self) -> bool:
        return not self.closed and self.keep_alive

    def is_available(self) -> bool:
        return not self.closed and self.keep_alive and self._waiter is None

    async def send(self, request: RawRequest, timeout: float | None) -> RawResponse:
        data = h1_bytes(request, self.single_use, self.proxy_form)
        transport = self._transport
        if transport is None or self.closed or transport.is_closing():
            raise await self._closed_error()
        loop = self._loop or asyncio.get_running_loop()
        waiter: asyncio.Future[RawResponse] = loop.create_future()
        self._waiter = waiter
        self._headers = []
        self._body = []
        self._body_size = 0
        self._keep_body = request.keep_body
        self._status = 0
        self._first_byte = 0.0
        self._head_size = self._head_raw = 0
        self._head_only = request.method == "HEAD"
        self._message_done = False
        self.in_flight = 1
        self.observer.on_active()
        self.requests += 1
        self.bytes_sent += len(data)
        deadlines, key = None, 0
        if timeout and self._deadlines is not None:
            deadlines = self._deadlines
            key = deadlines.arm(self, timeout)
        try:
            transport.write(data)
            if self._drain is not None:
                await self._drain
            return await waiter
        finally:
            if deadlines is not None:
                deadlines.disarm(self, key)
            self._waiter = None
            if self.in_flight:
                self.in_flight = 0
                if not self.closed:
                    self.observer.on_idle()
            self.last_used = time.monotonic()

    async def _closed_error(self) -> PeerClosed:
        if not self.closed:
            await self.wait_closed()  # the transport is closing on its own: learn why
        if self.close_reason is CloseReason.CONNECTION_RESET:
            return ConnectionReset("connection reset by peer", before_response=True)
        return PeerClosed("connection already closed", before_response=True)

    def _complete(self) -> None:
        self._message_done = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        self.keep_alive = self._parser.should_keep_alive()
        parts = self._body
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        response = RawResponse(self._status, self._headers, body, _HTTP11)
        response.body_size = self._body_size
        response.first_byte = self._first_byte
        if self._handoff is None:
            waiter.set_result(response)
        else:
            self._handoff.deliver(waiter, response)

    def _reads_to_eof(self) -> bool:
        """A response with neither length nor chunking ends when the server closes."""
        for name, _ in self._headers:
            lowered = name.lower()
            if lowered in (b"content-length", b"transfer-encoding"):
                return False
        return True

    def _header_too_large(self) -> None:
        self._headers = []
        self._fail(HeaderTooLarge(f"response headers larger than {self.max_header_size} bytes"))
        self.close(CloseReason.ERROR)

    def _fail(self, exc: Exception) -> None:
        if self._message_done:
            return  # complete, waiting for its hand-over: what follows is not its failure
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def expire(self) -> None:
        """The request's deadline passed (`Deadlines`)."""
        if self._message_done:
            return  # answered in time; its hand-over waits for a later loop turn
        self._fail(ReadTimeout("no complete response within the timeout"))
        self.close(CloseReason.ERROR)

    def close(self, reason: CloseReason) -> None:
        if self.closed:
            return
        self.closed = True
        self.observer.on_close(self, reason)
        if self._transport is not None:
            self._transport.close()

    async def wait_closed(self, timeout: float = 1.0) -> None:
        if self._lost is not None and not self._lost.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._lost), timeout)
            except TimeoutError:
                if self._transport is not None:
                    self._transport.abort()


def _lost_reason(exc: Exception | None, reset: bool) -> CloseReason:
    if reset:
        return CloseReason.CONNECTION_RESET
    return CloseReason.ERROR if exc is not None else CloseReason.PEER_CLOSED
