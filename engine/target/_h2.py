"""HTTP/2 on one connection (h2 over TLS, or h2c with prior knowledge), with the `h2` library.

Closing (`/close`, `always_close`, idle expiry, shutdown) sends GOAWAY only once no stream is in
flight, then closes. h2, which httpx and loadscope's engine use as clients too, takes a received
GOAWAY as the end of the connection and a frame after it as a protocol error, so nothing may
follow it. Streams that arrive after the decision to close (in a later read than the one that
triggered it) are refused with REFUSED_STREAM, which tells the client they were not processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from ._app import Deferred, Response, request_from_fields
from ._site import CodecHost

_BIG_WINDOW = 16 * 1024 * 1024
_DEFAULT_WINDOW = 65_535
_SERVER = (b"server", b"loadscope-target")
_CONFIG = h2.config.H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
)


class _State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # refuse new streams; GOAWAY and close once none is in flight
    CLOSED = "closed"  # GOAWAY sent, transport closing


class _Stream:
    __slots__ = ("body", "headers", "pending", "timer")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.headers = headers
        self.body: list[bytes] = []
        self.pending: memoryview | None = None  # response body waiting for flow-control window
        self.timer: asyncio.TimerHandle | None = None


class Http2Codec:
    __slots__ = (
        "_close_requested",
        "_conn",
        "_h2",
        "_handlers",
        "_last_accepted",
        "_state",
        "_streams",
    )

    def __init__(self, conn: CodecHost) -> None:
        self._conn = conn
        self._h2 = h2.connection.H2Connection(config=_CONFIG)
        self._streams: dict[int, _Stream] = {}
        self._last_accepted = 0  # the GOAWAY's last stream id
        self._close_requested = False  # an answer asked to close; takes effect after this read
        self._state = _State.OPEN
        self._handlers: dict[type[h2.events.Event], Callable[[Any], None]] = {
            h2.events.RequestReceived: self._on_request,
            h2.events.DataReceived: self._on_data,
            h2.events.StreamEnded: self._on_end,
            h2.events.StreamReset: self._on_reset,
            h2.events.WindowUpdated: self._on_window,
            h2.events.RemoteSettingsChanged: self._on_settings,
            h2.events.ConnectionTerminated: self._on_terminated,
        }

    def start(self) -> None:
        self._h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: (
                    self._conn.site.options.max_concurrent_streams
                ),
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _BIG_WINDOW,
            },
        )
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(_BIG_WINDOW - _DEFAULT_WINDOW)
        self._flush()

    def feed(self, data: bytes) -> None:
        try:
            for event in self._h2.receive_data(data):
                handler = self._handlers.get(type(event))
                if handler is not None:
                    handler(event)
        except h2.exceptions.ProtocolError:
            # A broken peer (h2 has queued a GOAWAY saying so), or frames after a GOAWAY.
            self._flush()
            self._conn.close()
            return
        self._after_answers()

    def lost(self) -> None:
        for stream in self._streams.values():
            if stream.timer is not None:
                stream.timer.cancel()
        self._streams.clear()

    def shutdown(self) -> None:
        if self._state is _State.OPEN:
            self._state = _State.CLOSING
        self._after_answers()

    # -- requests -------------------------------------------------------------------------------
    def _on_request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        if self._state is not _State.OPEN:
            self._h2.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        self._streams[stream_id] = _Stream(event.headers)
        self._last_accepted = stream_id
        self._conn.mark_busy()

    def _on_data(self, event: h2.events.DataReceived) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is not None and event.data:
            stream.body.append(event.data)
        if event.flow_controlled_length:
            self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)

    def _on_end(self, event: h2.events.StreamEnded) -> None:
        stream_id = event.stream_id
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        request = request_from_fields(stream.headers, b"".join(stream.body), "HTTP/2")
        if request is None:
            self._h2.reset_stream(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            self._drop(stream_id)
            return
        stream.body = []
        self._conn.count_request()
        result = self._conn.site.app.handle(request)
        head_only = request.method == "HEAD"
        if isinstance(result, Deferred):
            loop = self._conn.site.loop
            stream.timer = loop.call_later(
                result.delay, self._deferred, stream_id, result.response, head_only
            )
        else:
            self._respond(stream_id, stream, result, head_only)

    def _on_reset(self, event: h2.events.StreamReset) -> None:
        self._drop(event.stream_id)

    def _on_window(self, event: h2.events.WindowUpdated) -> None:
        self._resume(event.stream_id)

    def _on_settings(self, _: h2.events.RemoteSettingsChanged) -> None:
        self._resume(0)  # the initial window may have grown

    def _on_terminated(self, _: h2.events.ConnectionTerminated) -> None:
        self._flush()
        self._conn.close()

    def _deferred(self, stream_id: int, response: Response, head_only: bool) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        stream.timer = None
        self._respond(stream_id, stream, response, head_only)
        self._after_answers()

    # -- responses ------------------------------------------------------------------------------
    def _respond(
        self, stream_id: int, stream: _Stream, response: Response, head_only: bool
    ) -> None:
        if response.reset is not None:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self._h2.reset_stream(stream_id, response.reset)
            self._drop(stream_id)
            return
        status = response.status
        headers = [(b":status", b"%d" % status), _SERVER]
        body = response.body
        if status != 204 and status != 304:
            headers.append((b"content-type", response.content_type))
            headers.append((b"content-length", b"%d" % len(body)))
        if head_only or status == 204 or status == 304:
            body = b""
        headers.extend(response.headers)
        if response.close or self._conn.site.options.always_close:
            self._close_requested = True
        try:
            self._h2.send_headers(stream_id, headers, end_stream=not body)
        except h2.exceptions.ProtocolError:  # the stream or (after GOAWAY) the connection closed
            self._drop(stream_id)
            return
        if body:
            stream.pending = memoryview(body)
            self._send_pending(stream_id, stream)
        else:
            self._finish(stream_id)

    def _send_pending(self, stream_id: int, stream: _Stream) -> None:
        connection = self._h2
        data = stream.pending
        while data:
            try:
                window = connection.local_flow_control_window(stream_id)
                size = min(window, connection.max_outbound_frame_size, len(data))
                if size <= 0:
                    stream.pending = data
                    return  # WindowUpdated resumes
                connection.send_data(stream_id, data[:size], end_stream=size == len(data))
            except h2.exceptions.ProtocolError:
                self._drop(stream_id)
                return
            data = data[size:]
        stream.pending = None
        self._finish(stream_id)

    def _resume(self, stream_id: int) -> None:
        if stream_id:
            stream = self._streams.get(stream_id)
            if stream is not None and stream.pending is not None:
                self._send_pending(stream_id, stream)
            return
        for each, stream in list(self._streams.items()):
            if stream.pending is not None:
                self._send_pending(each, stream)

    def _finish(self, stream_id: int) -> None:
        self._streams.pop(stream_id, None)
        if not self._streams and self._state is _State.OPEN:
            self._conn.mark_idle()

    def _drop(self, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None and stream.timer is not None:
            stream.timer.cancel()
        self._finish(stream_id)

    def _after_answers(self) -> None:
        """After a read or a timer: start closing if asked, close if nothing is in flight."""
        if self._close_requested and self._state is _State.OPEN:
            self._state = _State.CLOSING
        if self._state is _State.CLOSING and not self._streams:
            self._state = _State.CLOSED
            with contextlib.suppress(h2.exceptions.ProtocolError):  # the client's GOAWAY came first
                self._h2.close_connection(last_stream_id=self._last_accepted)
            self._flush()
            self._conn.close()
        else:
            self._flush()

    def _flush(self) -> None:
        data = self._h2.data_to_send()
        if data:
            self._conn.transport.write(data)
