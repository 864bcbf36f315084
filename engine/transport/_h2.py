"""HTTP/2 connections (h2 over TLS, or h2c with prior knowledge): many streams, one socket."""

from __future__ import annotations

import asyncio
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from .._config import CloseReason
from ._errors import (
    BodyTooLarge,
    ConnectionReset,
    GoAway,
    PeerClosed,
    ProtocolError,
    ReadTimeout,
    StreamReset,
    is_reset,
)
from ._serialize import h2_headers, request_body
from ._wire import RawRequest, RawResponse
from .interfaces import (
    DEFAULT_MAX_BODY,
    Connection,
    ConnectionObserver,
)

_HTTP2 = b"HTTP/2"
_BIG_WINDOW = 16 * 1024 * 1024
# Concurrent streams when the server's SETTINGS set no limit (RFC 9113 suggests at least 100).
_DEFAULT_STREAMS = 100
# Until the server's SETTINGS arrive, one stream: a server with a lower limit than we guessed
# would refuse the excess.
_STREAMS_BEFORE_SETTINGS = 1
_H2_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    validate_inbound_headers=False,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
)


class _Stream:
    __slots__ = ("body", "body_size", "first_byte", "headers", "keep_body", "status", "waiter")

    def __init__(self, waiter: asyncio.Future[RawResponse], keep_body: bool) -> None:
        self.waiter = waiter
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.body_size = 0
        self.keep_body = keep_body
        self.first_byte = 0.0


class AsyncHTTP2Connection(Connection, asyncio.Protocol):
    __slots__ = (
        "_goaway",
        "_h2",
        "_lost",
        "_max_streams",
        "_send_windows",
        "_settings_seen",
        "_streams",
        "_transport",
    )

    multiplexed = True

    def __init__(
        self,
        observer: ConnectionObserver,
        runner: str,
        origin: str,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        Connection.__init__(self, observer, runner, origin, "HTTP/2", max_body)
        self._h2 = h2.connection.H2Connection(config=_H2_CONFIG)
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, _Stream] = {}
        self._max_streams = _STREAMS_BEFORE_SETTINGS
        self._goaway = False
        self._settings_seen = False
        self._lost: asyncio.Future[None] | None = None
        self._send_windows: asyncio.Future[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._lost = asyncio.get_running_loop().create_future()
        self._start()

    def _start(self) -> None:
        self._h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _BIG_WINDOW,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
            },
        )
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(_BIG_WINDOW)
        self._flush()

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
            if self._goaway:
                # h2 closes its state on GOAWAY, so frames still owed to us can't be read.
                self._fail_all(GoAway("response lost after GOAWAY", unprocessed=False))
                self.close(CloseReason.GOAWAY)
            else:
                self._fail_all(ProtocolError(f"HTTP/2 protocol error: {exc}"))
                self.close(CloseReason.ERROR)
            return
        for event in events:
            self._dispatch(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        reset = is_reset(exc)
        lost = ConnectionReset if reset else PeerClosed
        for stream in self._streams.values():
            if not stream.waiter.done():
                before = not stream.first_byte
                stream.waiter.set_exception(
                    lost("server closed the HTTP/2 connection", before_response=before)
                )
        if not self.closed:
            self.closed = True
            self.close_reason = self._lost_reason(exc, reset)
            self.observer.on_close(self, self.close_reason)
        self._wake_senders()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._notify_capacity()

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
        try:
            self._h2.close_connection()
            self._flush()
        except h2.exceptions.ProtocolError:
            pass
        if self._transport is not None:
            self._transport.close()
        self._fail_all(PeerClosed("connection closed", before_response=True))

    async def wait_closed(self, timeout: float = 1.0) -> None:
        if self._lost is not None and not self._lost.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._lost), timeout)
            except TimeoutError:
                if self._transport is not None:
                    self._transport.abort()

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
        stream = self._streams[stream_id] = _Stream(waiter, keep_body)
        self.in_flight = len(self._streams)
        if self.in_flight == 1:
            self.observer.on_active()
        self.requests += 1
        timer = loop.call_later(timeout, self._on_timeout, stream_id) if timeout else None
        try:
            self._h2.send_headers(stream_id, headers, end_stream=not body)
            if body:
                await self._send_body(stream_id, body)
            self._flush()
            response = await waiter
            response.first_byte = stream.first_byte
            return response
        finally:
            if timer is not None:
                timer.cancel()
            self._end_stream(stream_id)

    async def _send_body(self, stream_id: int, body: bytes) -> None:
        view = memoryview(body)
        while view:
            window = min(
                self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size
            )
            if window <= 0:
                self._flush()
                self._send_windows = asyncio.get_running_loop().create_future()
                await self._send_windows
                if self.closed:
                    raise PeerClosed("connection closed while sending", before_response=True)
                continue
            chunk, view = view[:window], view[window:]
            self._h2.send_data(stream_id, bytes(chunk), end_stream=not view)
            self.bytes_sent += len(chunk)
        self._flush()

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

    def _abandon(self, stream_id: int, error: Exception) -> None:
        """Fail one stream's request and tell the server we no longer want it."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.waiter.done():
            return
        stream.waiter.set_exception(error)
        try:
            self._h2.reset_stream(stream_id)
            self._flush()
        except h2.exceptions.ProtocolError:
            pass

    # -- events -------------------------------------------------------------------------------
    def _dispatch(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            self._on_data(event)
        elif isinstance(event, h2.events.ResponseReceived):
            self._on_headers(event.stream_id, event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            self._on_stream_ended(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self._on_reset(event.stream_id, event.error_code)
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self._on_settings()
        elif isinstance(event, h2.events.WindowUpdated):
            self._wake_senders()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._on_goaway(event.last_stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                stream.headers.extend(event.headers or ())

    def _on_headers(self, stream_id: int, headers: list[tuple[bytes, bytes]] | None) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if not stream.first_byte:
            stream.first_byte = time.perf_counter()
        for name, value in headers or ():
            if name == b":status":
                stream.status = int(value)
            else:
                stream.headers.append((name, value))

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

    def _on_stream_ended(self, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is None or stream.waiter.done():
            return
        response = RawResponse(stream.status, stream.headers, b"".join(stream.body), _HTTP2)
        response.body_size = stream.body_size
        stream.waiter.set_result(response)

    def _on_reset(self, stream_id: int, error_code: object) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None and not stream.waiter.done():
            stream.waiter.set_exception(StreamReset(f"stream reset by server ({error_code})"))

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
            if stream_id > last and not stream.waiter.done():
                stream.waiter.set_exception(
                    GoAway("server sent GOAWAY before this stream", unprocessed=True)
                )
        if not self._streams:
            self.close(CloseReason.GOAWAY)
        self._notify_capacity()

    # -- helpers ------------------------------------------------------------------------------
    def _flush(self) -> None:
        data = self._h2.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self.bytes_sent += len(data)
            self._transport.write(data)

    def _fail_all(self, exc: Exception) -> None:
        for stream in self._streams.values():
            if not stream.waiter.done():
                stream.waiter.set_exception(exc)

    def _wake_senders(self) -> None:
        if self._send_windows is not None and not self._send_windows.done():
            self._send_windows.set_result(None)

    def _notify_capacity(self) -> None:
        callback = self.on_capacity
        if callback is not None:
            callback()
