"""A lean HTTP/2 client state machine: the part of h2's `H2Connection` a load generator's
client uses, with one Python object per stream and none per frame.

It speaks the same interface and emits the same `h2.events` as h2 (the subset the connection
reads), so `AsyncHTTP2Connection` runs on either; `tests/test_h2_lean.py` feeds the same server
byte streams through both and compares events, responses, stream states and errors. h2 stays
the reference: anything this class meets that a client under load should never see (server
push, a malformed frame, a frame on a stream that was never opened) is a connection error, as
in h2, and the engine reports it as `protocol_error`.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack

from ._h2_hpack import RememberingDecoder, RememberingEncoder

_DATA, _HEADERS, _PRIORITY, _RST_STREAM, _SETTINGS = 0, 1, 2, 3, 4
_PUSH_PROMISE, _PING, _GOAWAY, _WINDOW_UPDATE, _CONTINUATION = 5, 6, 7, 8, 9
_END_STREAM, _ACK, _END_HEADERS, _PADDED, _PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEAD = struct.Struct(">HBBBL")  # length (24 bits as 16 + 8), type, flags, stream id
_SETTING = struct.Struct(">HL")
_U32 = struct.Struct(">L")
_MAX_WINDOW = 2**31 - 1
_DEFAULT_WINDOW = 65_535
_CONTINUATION_BACKLOG = 64  # frames in one header block, as h2 allows
_Codes = h2.settings.SettingCodes


class LeanStream:
    __slots__ = ("ended_local", "ended_remote", "got_headers", "reset", "unacked", "window")

    def __init__(self, window: int) -> None:
        self.window = window  # what we may still send
        self.unacked = 0  # received bytes not yet returned to the server
        self.got_headers = False
        self.ended_local = False
        self.ended_remote = False
        self.reset = False

    @property
    def closed(self) -> bool:
        return self.reset or (self.ended_local and self.ended_remote)

    @property
    def state(self) -> str:
        """As h2's stream states name it."""
        if self.closed:
            return "CLOSED"
        if self.ended_local:
            return "HALF_CLOSED_LOCAL"
        return "HALF_CLOSED_REMOTE" if self.ended_remote else "OPEN"


class RemoteSettings:
    """The server's settings as h2 exposes them (attribute names), defaults until it speaks."""

    __slots__ = ("initial_window_size", "max_concurrent_streams", "max_frame_size")

    def __init__(self) -> None:
        self.initial_window_size = _DEFAULT_WINDOW
        self.max_concurrent_streams = 2**32 + 1  # h2's "no limit"
        self.max_frame_size = 16_384


class LeanH2Sender:
    """The connection's state and what the client sends; `LeanH2Connection` adds reading."""

    def __init__(self, local_settings: Mapping[int, int], connection_window: int) -> None:
        self.encoder = RememberingEncoder()
        self.decoder = RememberingDecoder()
        self.remote_settings = RemoteSettings()
        self.streams: dict[int, LeanStream] = {}
        self.max_outbound_frame_size = 16_384
        self._local = local_settings
        self._local_window = _DEFAULT_WINDOW  # per stream, until the server ACKs our SETTINGS
        self._acked = False
        self._send_window = _DEFAULT_WINDOW
        self._conn_window_size = _DEFAULT_WINDOW + connection_window  # what we allow in all
        self._recv_window = self._conn_window_size  # what the server may still send
        self._conn_unacked = 0
        self._connection_window = connection_window
        self._next_id = 1
        self._highest_id = 0
        self._out = bytearray()
        self._buffer = b""
        self._header_block: tuple[int, int, list[bytes]] | None = None  # sid, flags, fragments
        self._header_block_size = 0  # the fragments' bytes so far
        self._max_header_block: int | None = None  # see limit_header_list
        self.oversized_stream: int | None = None  # the stream whose header block was too large
        self._closed = False  # we sent GOAWAY (or failed): nothing more is read or sent
        self._goaway = False  # the server sent GOAWAY: no new streams, open ones may finish

    def limit_header_list(self, size: int) -> None:
        """Before `initiate_connection`: advertise SETTINGS_MAX_HEADER_LIST_SIZE and hold the
        server to it. A header block over `size` bytes, raw (counted as its CONTINUATION frames
        arrive, before any decoding) or decoded, is a connection error, as h2's oversized one."""
        self._local = {**self._local, _Codes.MAX_HEADER_LIST_SIZE: size}
        self.decoder.max_header_list_size = size
        self._max_header_block = size

    # -- sending ------------------------------------------------------------------------------
    def initiate_connection(self) -> None:
        body = b"".join(_SETTING.pack(code, value) for code, value in self._local.items())
        self._out += _PREFACE
        self._frame(_SETTINGS, 0, 0, body)
        if self._connection_window:
            self._frame(_WINDOW_UPDATE, 0, 0, _U32.pack(self._connection_window))

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def get_next_available_stream_id(self) -> int:
        if self._next_id > _MAX_WINDOW:  # 2^31 - 1 is also the highest stream id
            raise h2.exceptions.NoAvailableStreamIDError("every stream id has been used")
        return self._next_id

    def send_headers(
        self, stream_id: int, headers: list[tuple[bytes, bytes]], end_stream: bool = False
    ) -> None:
        self._check_open()
        if stream_id != self._next_id:
            raise h2.exceptions.ProtocolError(f"stream {stream_id} is not the next stream id")
        if self._goaway:
            raise h2.exceptions.ProtocolError("the server sent GOAWAY")
        limit = self.remote_settings.max_concurrent_streams
        if self._open_count() >= limit:
            raise h2.exceptions.TooManyStreamsError(f"over the server's limit of {limit}")
        self._next_id += 2
        stream = self.streams[stream_id] = LeanStream(self.remote_settings.initial_window_size)
        block = self.encoder.encode(headers)
        size = self.max_outbound_frame_size
        first, rest = block[:size], block[size:]
        flags = (_END_STREAM if end_stream else 0) | (0 if rest else _END_HEADERS)
        self._frame(_HEADERS, flags, stream_id, first)
        while rest:
            part, rest = rest[:size], rest[size:]
            self._frame(_CONTINUATION, 0 if rest else _END_HEADERS, stream_id, part)
        stream.ended_local = end_stream

    def local_flow_control_window(self, stream_id: int) -> int:
        stream = self._live(stream_id)
        return min(stream.window, self._send_window)

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        self._check_open()
        stream = self._live(stream_id)
        if stream.ended_local:
            raise h2.exceptions.StreamClosedError(stream_id)
        if len(data) > min(stream.window, self._send_window, self.max_outbound_frame_size):
            raise h2.exceptions.FlowControlError("data larger than the window or frame")
        stream.window -= len(data)
        self._send_window -= len(data)
        self._frame(_DATA, _END_STREAM if end_stream else 0, stream_id, data)
        stream.ended_local = end_stream
        self._forget(stream_id, stream)

    def acknowledge_received_data(self, acknowledged_size: int, stream_id: int) -> None:
        """Return window in batches, as h2 does: half a window at a time."""
        self._conn_unacked += acknowledged_size
        if self._conn_unacked >= self._conn_window_size // 2:
            self._frame(_WINDOW_UPDATE, 0, 0, _U32.pack(self._conn_unacked))
            self._recv_window += self._conn_unacked
            self._conn_unacked = 0
        stream = self.streams.get(stream_id)
        if stream is None or stream.ended_remote:
            return
        stream.unacked += acknowledged_size
        if stream.unacked >= self._local_window // 2:
            self._frame(_WINDOW_UPDATE, 0, stream_id, _U32.pack(stream.unacked))
            stream.unacked = 0

    def reset_stream(self, stream_id: int, error_code: int = 0) -> None:
        self._check_open()
        stream = self._live(stream_id)
        self._frame(_RST_STREAM, 0, stream_id, _U32.pack(error_code))
        stream.reset = True
        self._forget(stream_id, stream)

    def close_connection(self, error_code: int = 0) -> None:
        if self._closed:
            raise h2.exceptions.ProtocolError("connection already closed")
        self._frame(_GOAWAY, 0, 0, _U32.pack(self._highest_id) + _U32.pack(error_code))
        self._closed = True

    def _frame(self, kind: int, flags: int, stream_id: int, body: bytes) -> None:
        size = len(body)
        self._out += _HEAD.pack(size >> 8, size & 0xFF, kind, flags, stream_id)
        self._out += body

    def _check_open(self) -> None:
        if self._closed:
            raise h2.exceptions.ProtocolError("the connection is closed")

    def _live(self, stream_id: int) -> LeanStream:
        stream = self.streams.get(stream_id)
        if stream is None or stream.closed:
            raise h2.exceptions.StreamClosedError(stream_id)
        return stream

    def _open_count(self) -> int:
        return len(self.streams)  # a stream leaves as it closes

    def _forget(self, stream_id: int, stream: LeanStream) -> None:
        if stream.closed:
            self.streams.pop(stream_id, None)


class LeanH2Connection(LeanH2Sender):
    """Client side only, prior knowledge or ALPN, no server push, no priorities: reads the
    server's frames into h2's events."""

    def receive_data(self, data: bytes) -> list[h2.events.Event]:
        """Parse every complete frame in `data` (and what was left over); the events in order.
        A connection error raises h2's `ProtocolError` (or a subclass) after queueing GOAWAY."""
        buffer = self._buffer + data if self._buffer else data
        events: list[h2.events.Event] = []
        offset, end = 0, len(buffer)
        max_size = self._local.get(_Codes.MAX_FRAME_SIZE, 16_384)
        try:
            while end - offset >= 9:
                high, low, kind, flags, stream_id = _HEAD.unpack_from(buffer, offset)
                size = (high << 8) | low
                if size > max_size:
                    raise h2.exceptions.FrameTooLargeError(f"frame of {size} bytes")
                if end - offset - 9 < size:
                    break
                body = buffer[offset + 9 : offset + 9 + size]
                offset += 9 + size
                self._receive_frame(kind, flags, stream_id & _MAX_WINDOW, body, events)
        except h2.exceptions.ProtocolError as exc:
            self._fail(exc)
            raise
        self._buffer = buffer[offset:]
        return events

    def _fail(self, exc: h2.exceptions.ProtocolError) -> None:
        if not self._closed:
            code = getattr(exc, "error_code", h2.errors.ErrorCodes.PROTOCOL_ERROR)
            self._frame(_GOAWAY, 0, 0, _U32.pack(self._highest_id) + _U32.pack(int(code)))
            self._closed = True

    def _receive_frame(
        self, kind: int, flags: int, stream_id: int, body: bytes, events: list[h2.events.Event]
    ) -> None:
        if self._header_block is not None and kind != _CONTINUATION:
            raise h2.exceptions.ProtocolError("a header block was interrupted")
        if self._closed and kind != _GOAWAY:
            return  # after GOAWAY either way, nothing more is read
        if kind == _DATA:
            self._on_data(flags, stream_id, body, events)
        elif kind == _HEADERS:
            self._on_headers(flags, stream_id, body, events)
        elif kind == _CONTINUATION:
            self._on_continuation(flags, stream_id, body, events)
        elif kind == _WINDOW_UPDATE:
            self._on_window_update(stream_id, body, events)
        elif kind == _SETTINGS:
            self._on_settings(flags, stream_id, body, events)
        elif kind == _RST_STREAM:
            self._on_reset(stream_id, body, events)
        elif kind == _PING:
            self._on_ping(flags, stream_id, body, events)
        elif kind == _GOAWAY:
            self._on_goaway(stream_id, body, events)
        elif kind == _PUSH_PROMISE:
            raise h2.exceptions.ProtocolError("server push was disabled")
        elif kind == _PRIORITY and len(body) != 5:
            raise h2.exceptions.FrameDataMissingError("PRIORITY frame of the wrong size")

    def _stream_for(self, stream_id: int) -> LeanStream | None:
        """The open stream; None for one that has closed (its frames are dropped). A frame on
        stream 0 or on a stream never opened is a connection error."""
        stream = self.streams.get(stream_id)
        if stream is None and (stream_id == 0 or stream_id >= self._next_id or not stream_id & 1):
            raise h2.exceptions.ProtocolError(f"frame on stream {stream_id}, never opened")
        return stream

    def _on_data(
        self, flags: int, stream_id: int, body: bytes, events: list[h2.events.Event]
    ) -> None:
        stream = self._stream_for(stream_id)
        length = len(body)
        self._recv_window -= length
        if self._recv_window < 0:
            raise h2.exceptions.FlowControlError("the server overran the connection window")
        data = _unpad(body) if flags & _PADDED else body
        if stream is None or stream.ended_remote:
            self.acknowledge_received_data(length, stream_id)  # hand the window straight back
            return
        if not stream.got_headers:
            raise h2.exceptions.ProtocolError(f"DATA before HEADERS on stream {stream_id}")
        events.append(
            h2.events.DataReceived(stream_id=stream_id, data=data, flow_controlled_length=length)
        )
        if flags & _END_STREAM:
            self._end_remote(stream_id, stream, events)

    def _on_headers(
        self, flags: int, stream_id: int, body: bytes, events: list[h2.events.Event]
    ) -> None:
        if flags & _PADDED:
            body = _unpad(body)
        if flags & _PRIORITY_FLAG:
            body = body[5:]
        if flags & _END_HEADERS:
            self._header_block_done(stream_id, flags, body, events)
        else:
            self._header_block_size = 0
            self._count_header_bytes(stream_id, body)
            self._header_block = (stream_id, flags, [body])

    def _on_continuation(
        self, flags: int, stream_id: int, body: bytes, events: list[h2.events.Event]
    ) -> None:
        block = self._header_block
        if block is None or block[0] != stream_id:
            raise h2.exceptions.ProtocolError("CONTINUATION out of place")
        self._count_header_bytes(stream_id, body)
        block[2].append(body)
        if len(block[2]) > _CONTINUATION_BACKLOG:
            raise h2.exceptions.ProtocolError("Too many continuation frames received.")
        if flags & _END_HEADERS:
            self._header_block = None
            self._header_block_done(stream_id, block[1], b"".join(block[2]), events)

    def _count_header_bytes(self, stream_id: int, fragment: bytes) -> None:
        """A header block still arriving stops at the limit: its raw bytes never exceed it."""
        self._header_block_size += len(fragment)
        limit = self._max_header_block
        if limit is not None and self._header_block_size > limit:
            raise self._oversized(stream_id, f"{self._header_block_size} bytes, over {limit}")

    def _oversized(self, stream_id: int, why: str) -> h2.exceptions.DenialOfServiceError:
        self.oversized_stream = stream_id
        error = h2.exceptions.DenialOfServiceError(f"Oversized header block: {why}")
        error.__cause__ = hpack.OversizedHeaderListError(why)
        return error

    def _header_block_done(
        self, stream_id: int, flags: int, block: bytes, events: list[h2.events.Event]
    ) -> None:
        stream = self._stream_for(stream_id)
        limit = self._max_header_block
        if limit is not None and len(block) > limit:
            raise self._oversized(stream_id, f"{len(block)} bytes, over {limit}")
        try:
            headers: list[Any] = self.decoder.decode(block, raw=True)  # h2's Header tuples
        except hpack.OversizedHeaderListError as exc:  # over decoder.max_header_list_size
            self.oversized_stream = stream_id
            raise h2.exceptions.DenialOfServiceError(f"Oversized header block: {exc}") from exc
        except (hpack.HPACKError, IndexError, TypeError, UnicodeDecodeError) as exc:
            raise h2.exceptions.ProtocolError(f"Error decoding header block: {exc}") from exc
        if stream is None:
            return  # the table was kept in step; the stream is gone
        if stream.ended_remote:
            raise h2.exceptions.StreamClosedError(stream_id)
        ended = bool(flags & _END_STREAM)
        event: h2.events.Event
        if stream.got_headers:
            if not ended:
                raise h2.exceptions.ProtocolError("trailers without END_STREAM")
            event = h2.events.TrailersReceived(stream_id=stream_id, headers=headers)
        elif headers and headers[0][1][:1] == b"1" and headers[0][0] == b":status":
            event = h2.events.InformationalResponseReceived(stream_id=stream_id, headers=headers)
        else:
            stream.got_headers = True
            event = h2.events.ResponseReceived(stream_id=stream_id, headers=headers)
        events.append(event)
        if ended:
            self._end_remote(stream_id, stream, events)

    def _end_remote(
        self, stream_id: int, stream: LeanStream, events: list[h2.events.Event]
    ) -> None:
        stream.ended_remote = True
        events.append(h2.events.StreamEnded(stream_id=stream_id))
        self._forget(stream_id, stream)

    def _on_window_update(self, stream_id: int, body: bytes, events: list[h2.events.Event]) -> None:
        if len(body) != 4:
            raise h2.exceptions.FrameDataMissingError("WINDOW_UPDATE of the wrong size")
        delta = _U32.unpack(body)[0] & _MAX_WINDOW
        if stream_id == 0:
            if not delta:
                raise h2.exceptions.ProtocolError("WINDOW_UPDATE of 0")
            self._send_window += delta
            if self._send_window > _MAX_WINDOW:
                raise h2.exceptions.FlowControlError("connection window over 2^31-1")
        else:
            stream = self._stream_for(stream_id)
            if stream is None:
                return
            if not delta:
                raise h2.exceptions.ProtocolError("WINDOW_UPDATE of 0")
            stream.window += delta
            if stream.window > _MAX_WINDOW:
                raise h2.exceptions.FlowControlError("stream window over 2^31-1")
        events.append(h2.events.WindowUpdated(stream_id=stream_id, delta=delta))

    def _on_settings(
        self, flags: int, stream_id: int, body: bytes, events: list[h2.events.Event]
    ) -> None:
        if stream_id or len(body) % 6:
            raise h2.exceptions.ProtocolError("malformed SETTINGS")
        if flags & _ACK:
            if body:
                raise h2.exceptions.ProtocolError("SETTINGS ACK with a body")
            if not self._acked:
                self._acked = True
                self._local_window = self._local.get(_Codes.INITIAL_WINDOW_SIZE, _DEFAULT_WINDOW)
            events.append(h2.events.SettingsAcknowledged())
            return
        changed = {}
        for at in range(0, len(body), 6):
            code, value = _SETTING.unpack_from(body, at)
            self._apply_setting(code, value)
            changed[code] = h2.settings.ChangedSetting(code, None, value)
        self._frame(_SETTINGS, _ACK, 0, b"")
        event = h2.events.RemoteSettingsChanged()
        event.changed_settings = changed
        events.append(event)

    def _apply_setting(self, code: int, value: int) -> None:
        remote = self.remote_settings
        if code == _Codes.INITIAL_WINDOW_SIZE:
            if value > _MAX_WINDOW:
                raise h2.exceptions.FlowControlError("INITIAL_WINDOW_SIZE over 2^31-1")
            delta = value - remote.initial_window_size
            remote.initial_window_size = value
            for stream in self.streams.values():
                stream.window += delta
        elif code == _Codes.MAX_CONCURRENT_STREAMS:
            remote.max_concurrent_streams = value
        elif code == _Codes.MAX_FRAME_SIZE:
            if not 16_384 <= value <= 16_777_215:
                raise h2.exceptions.ProtocolError(f"MAX_FRAME_SIZE {value}")
            remote.max_frame_size = self.max_outbound_frame_size = value
        elif code == _Codes.HEADER_TABLE_SIZE:
            self.encoder.header_table_size = value
        elif code == _Codes.ENABLE_PUSH and value not in (0, 1):
            raise h2.exceptions.ProtocolError(f"ENABLE_PUSH {value}")

    def _on_reset(self, stream_id: int, body: bytes, events: list[h2.events.Event]) -> None:
        if len(body) != 4:
            raise h2.exceptions.FrameDataMissingError("RST_STREAM of the wrong size")
        stream = self._stream_for(stream_id)
        if stream is None:
            return
        stream.reset = True
        self._forget(stream_id, stream)
        code = _error_code(_U32.unpack(body)[0])
        events.append(h2.events.StreamReset(stream_id=stream_id, error_code=code))

    def _on_ping(
        self, flags: int, stream_id: int, body: bytes, events: list[h2.events.Event]
    ) -> None:
        if stream_id or len(body) != 8:
            raise h2.exceptions.ProtocolError("malformed PING")
        if flags & _ACK:
            events.append(h2.events.PingAckReceived(ping_data=body))
        else:
            self._frame(_PING, _ACK, 0, body)
            events.append(h2.events.PingReceived(ping_data=body))

    def _on_goaway(self, stream_id: int, body: bytes, events: list[h2.events.Event]) -> None:
        if stream_id or len(body) < 8:
            raise h2.exceptions.ProtocolError("malformed GOAWAY")
        last, code = _U32.unpack_from(body, 0)[0] & _MAX_WINDOW, _U32.unpack_from(body, 4)[0]
        self._goaway = True
        event = h2.events.ConnectionTerminated()
        event.error_code, event.last_stream_id = _error_code(code), last
        event.additional_data = body[8:] or None
        events.append(event)


def header_list_too_large(exc: h2.exceptions.ProtocolError) -> bool:
    """Whether the connection error is a response header block over the limit (either
    machine: h2 raises its DenialOfServiceError from hpack's OversizedHeaderListError)."""
    cause = exc.__cause__ or exc.__context__
    return isinstance(exc, h2.exceptions.DenialOfServiceError) and isinstance(
        cause, hpack.OversizedHeaderListError
    )


def _unpad(body: bytes) -> bytes:
    if not body or body[0] >= len(body):
        raise h2.exceptions.ProtocolError("padding longer than the frame")
    return body[1 : len(body) - body[0]]


def _error_code(code: int) -> h2.errors.ErrorCodes | int:
    try:
        return h2.errors.ErrorCodes(code)
    except ValueError:
        return code
