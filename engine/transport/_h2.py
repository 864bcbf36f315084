"""HTTP/2 connections (h2 over TLS, or h2c with prior knowledge): many streams, one socket."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import h2.connection
import h2.events
import h2.exceptions
from h2.errors import ErrorCodes

from .._config import CloseReason
from ._errors import (
    BodyTooLarge,
    ConnectionReset,
    GoAway,
    HeaderTooLarge,
    PeerClosed,
    ProtocolError,
    ReadTimeout,
    StreamReset,
    is_reset,
)
from ._h2_lean import LeanH2Connection, header_list_too_large
from ._h2_wire import H2Machine, H2Wire, default_machine
from ._serialize import h2_headers, request_body
from ._stream import ResponseStream
from ._wire import RawRequest, RawResponse
from .interfaces import (
    DEFAULT_MAX_BODY,
    Connection,
    ConnectionObserver,
)

_HTTP2 = b"HTTP/2"
# Concurrent streams when the server's SETTINGS set no limit (RFC 9113 suggests at least 100).
_DEFAULT_STREAMS = 100
# Until the server's SETTINGS arrive, one stream: a server with a lower limit than we guessed
# would refuse the excess.
_STREAMS_BEFORE_SETTINGS = 1


class AsyncHTTP2Connection(Connection, asyncio.Protocol):
    __slots__ = (
        "_goaway",
        "_h2",
        "_lost",
        "_max_streams",
        "_settings_seen",
        "_streams",
        "_terminated",
        "_wire",
    )

    multiplexed = True

    def __init__(
        self,
        observer: ConnectionObserver,
        runner: str,
        origin: str,
        max_body: int = DEFAULT_MAX_BODY,
        *,
        machine: H2Machine | None = None,
    ) -> None:
        Connection.__init__(self, observer, runner, origin, "HTTP/2", max_body)
        # The HTTP/2 state machine: the lean one unless LOADSCOPE_H2=h2 (or a test) picks h2's.
        self._h2: H2Machine = machine if machine is not None else default_machine()
        self._wire = H2Wire(self._h2, self)
        self._streams: dict[int, ResponseStream] = {}
        self._max_streams = _STREAMS_BEFORE_SETTINGS
        self._goaway = False
        self._settings_seen = False
        self._lost: asyncio.Future[None] | None = None
        self._terminated = False  # a connection error: the machine queued its own GOAWAY

    # -- lifecycle ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._wire.start(transport, loop)  # type: ignore[arg-type]

    @property
    def usable(self) -> bool:
        return not self.closed and not self._goaway

    def is_available(self) -> bool:
        return len(self._streams) < self._max_streams and not self.closed and not self._goaway

    def data_received(self, data: bytes) -> None:
        self.bytes_received += len(data)
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._terminated = True
            if self._goaway:
                # h2's machine (LOADSCOPE_H2=h2) closes its state on GOAWAY, so frames still
                # owed to us can't be read; the lean one reads them.
                self._fail_all(GoAway("response lost after GOAWAY", unprocessed=False))
                self.close(CloseReason.GOAWAY)
            elif header_list_too_large(exc):
                self._header_too_large()
            else:
                self._fail_all(ProtocolError(f"HTTP/2 protocol error: {exc}"))
                self.close(CloseReason.ERROR)
            return
        for event in events:
            self._dispatch(event)
        self._wire.flush_soon()

    def connection_lost(self, exc: Exception | None) -> None:
        reset = is_reset(exc)
        lost = ConnectionReset if reset else PeerClosed
        for stream in self._streams.values():
            before = not stream.first_byte
            stream.fail(lost("server closed the HTTP/2 connection", before_response=before))
        if not self.closed:
            self.closed = True
            self.close_reason = self._lost_reason(exc, reset)
            self.observer.on_close(self, self.close_reason)
        self._wire.wake_senders()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._notify_capacity()
        self._wire.detach()

    def _unusable_error(self) -> PeerClosed:
        if self.close_reason is CloseReason.CONNECTION_RESET:
            return ConnectionReset("connection reset by peer", before_response=True)
        return PeerClosed("connection no longer usable", before_response=True)

    def _lost_reason(self, exc: Exception | None, reset: bool) -> CloseReason:
        if self._goaway:
            return CloseReason.GOAWAY
        if reset:
            return CloseReason.CONNECTION_RESET
        return CloseReason.ERROR if exc is not None else CloseReason.PEER_CLOSED

    def close(self, reason: CloseReason) -> None:
        if self.closed:
            return
        self.closed = True
        self.observer.on_close(self, reason)
        if not self._terminated:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self._h2.close_connection()
        self._wire.flush()
        if self._wire.transport is not None:
            self._wire.transport.close()
        self._wire.wake_senders()
        self._fail_all(PeerClosed("connection closed", before_response=True))

    async def wait_closed(self, timeout: float = 1.0) -> None:
        if self._lost is not None and not self._lost.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._lost), timeout)
            except TimeoutError:
                if self._wire.transport is not None:
                    self._wire.transport.abort()

    # -- requests -----------------------------------------------------------------------------
    async def send(self, request: RawRequest, timeout: float | None) -> RawResponse:
        headers = h2_headers(request)
        body = request_body(request)
        if not self.usable:
            raise self._unusable_error()
        loop = asyncio.get_running_loop()
        stream_id = self._h2.get_next_available_stream_id()
        waiter: asyncio.Future[RawResponse] = loop.create_future()
        keep_body = request.keep_body
        stream = self._streams[stream_id] = ResponseStream(waiter, keep_body, _HTTP2)
        self.in_flight = len(self._streams)
        if self.in_flight == 1:
            self.observer.on_active()
        self.requests += 1
        timer = loop.call_later(timeout, self._on_timeout, stream_id) if timeout else None
        try:
            self._h2.send_headers(stream_id, headers, end_stream=not body)
            if body and not await self._wire.send_body(stream_id, body, self._stops(stream)):
                self._stop_upload(stream_id, stream)
            self._wire.flush_soon()
            response = await waiter
            response.first_byte = stream.first_byte
            return response
        finally:
            if timer is not None:
                timer.cancel()
            if waiter.cancelled():  # the caller gave up (a stop, a cancelled VU): tell the server
                self._reset_stream(stream_id)
            self._end_stream(stream_id)

    def _stops(self, stream: ResponseStream) -> Callable[[], bool]:
        return lambda: stream.waiter.done() or self.closed

    def _stop_upload(self, stream_id: int, stream: ResponseStream) -> None:
        """An upload cut short: the connection closed under it, or the stream ended first (an
        early answer, a reset, a timeout); an early answer still needs the stream closed."""
        waiter = stream.waiter
        if self.closed:
            stream.fail(PeerClosed("connection closed while sending", before_response=True))
        elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            self._reset_stream(stream_id)  # answered early: NO_ERROR, the rest is not needed

    def _end_stream(self, stream_id: int) -> None:
        if self._streams.pop(stream_id, None) is None:
            return
        self.in_flight = len(self._streams)
        if not self._streams:
            if not self.closed:
                self.observer.on_idle()
            self.last_used = time.monotonic()
            if self._goaway:
                self.close(CloseReason.GOAWAY)
        self._notify_capacity()

    def _on_timeout(self, stream_id: int) -> None:
        self._abandon(stream_id, ReadTimeout("no complete response within the timeout"))

    def _abandon(self, stream_id: int, error: Exception, code: int = 0) -> None:
        """Fail one stream's request and tell the server we no longer want it."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.waiter.done():
            return
        stream.waiter.set_exception(error)
        self._reset_stream(stream_id, code)

    def _reset_stream(self, stream_id: int, code: int = 0) -> None:
        try:
            self._h2.reset_stream(stream_id, code)
            self._wire.flush_soon()
        except h2.exceptions.ProtocolError:
            pass

    # -- events -------------------------------------------------------------------------------
    def _dispatch(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            self._on_data(event)
        elif isinstance(event, h2.events.ResponseReceived):
            stream = self._streams.get(event.stream_id)
            error = stream.on_headers(event.headers) if stream is not None else None
            if error is not None:
                self._abandon(event.stream_id, error, ErrorCodes.PROTOCOL_ERROR)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                stream.finish()
        elif isinstance(event, h2.events.StreamReset):
            self._on_reset(event.stream_id, event.error_code)
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self._on_settings()
            self._wire.wake_senders()  # INITIAL_WINDOW_SIZE may have opened every window
        elif isinstance(event, h2.events.WindowUpdated):
            self._wire.wake_senders()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._on_goaway(event.last_stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                stream.headers.extend(event.headers or ())

    def _on_data(self, event: h2.events.DataReceived) -> None:
        self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        stream = self._streams.get(event.stream_id)
        if stream is None or not event.data:
            return
        stream.body_size += len(event.data)
        if not stream.keep_body:
            return
        if stream.body_size > self.max_body:
            stream.keep_body = False
            stream.body = []
            too_large = BodyTooLarge(f"response body larger than {self.max_body} bytes")
            self._abandon(event.stream_id, too_large)
            return
        stream.body.append(event.data)

    def _on_reset(self, stream_id: int, error_code: object) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.fail(StreamReset(f"stream reset by server ({error_code})"))

    def _on_settings(self) -> None:
        remote = self._h2.remote_settings.max_concurrent_streams
        self._max_streams = min(remote, 1000) if remote else _DEFAULT_STREAMS
        self._settings_seen = True
        for _ in range(max(self._max_streams - len(self._streams), 1)):
            self._notify_capacity()  # each call lets one waiting request in

    def _on_goaway(self, last_stream_id: int | None) -> None:
        self._goaway = True
        last = last_stream_id or 0
        for stream_id, stream in list(self._streams.items()):
            if stream_id > last:
                stream.fail(GoAway("server sent GOAWAY before this stream", unprocessed=True))
        if not self._streams:
            self.close(CloseReason.GOAWAY)
        self._notify_capacity()

    def _header_too_large(self) -> None:
        """A header block over `max_header_size`: its request fails with `header_too_large`
        and the connection closes (the machine queued GOAWAY; the HPACK table is lost). h2's
        machine does not say which stream it was: then each stream still without a status."""
        error = HeaderTooLarge(f"response headers larger than {self.max_header_size} bytes")
        machine = self._h2
        oversized = machine.oversized_stream if isinstance(machine, LeanH2Connection) else None
        for stream_id, stream in self._streams.items():
            if stream_id == oversized or (oversized is None and not stream.status):
                stream.fail(error)
        self.close(CloseReason.ERROR)

    # -- helpers ------------------------------------------------------------------------------
    def _fail_all(self, exc: Exception) -> None:
        for stream in self._streams.values():
            stream.fail(exc)

    def _notify_capacity(self) -> None:
        callback = self.on_capacity
        if callback is not None:
            callback()
