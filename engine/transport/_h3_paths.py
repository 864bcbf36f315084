"""Which way each HTTP/3 request stream goes: through aioquic's H3 layer, or past it on the fast
path of `_h3_fast` where nothing needs that layer; and the scan of a response's frame headers
that fails a HEADERS frame over `max_header_size` before anything holds it.

The fast path reads and writes aioquic's own table of H3 streams (`H3Connection._stream` and
`_is_done`, aioquic 1.x): where that table is not as expected, every stream takes aioquic's path.
"""

from __future__ import annotations

from collections.abc import Container

from aioquic.h3.connection import FrameType, H3Connection, Setting, encode_frame
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import StreamDataReceived

from ._h3_control import read_varint
from ._h3_fast import (
    DecodedBlock,
    StaticBlocks,
    sent_request_state,
    split_response,
    static_request_frame,
)
from ._wire import RawRequest

Headers = list[tuple[bytes, bytes]]
_STATIC_FRAME = "h3-static"  # a request's HEADERS frame without dynamic table, in `serialized`


def h3_internals_known(h3: H3Connection) -> bool:
    """Whether aioquic's H3 stream table is where and what the fast path expects."""
    return isinstance(getattr(h3, "_stream", None), dict) and isinstance(
        getattr(h3, "_is_done", None), bool
    )


class StreamPaths:
    def __init__(self, h3: H3Connection, quic: QuicConnection, max_header_size: int) -> None:
        self.h3 = h3
        self.quic = quic
        self.max_header_size = max_header_size
        self.fast = h3_internals_known(h3)
        self._scans: dict[int, FrameScan] = {}  # per response stream, for max_header_size
        self._static_qpack: bool | None = None  # the server's decoder has no dynamic table
        self._blocks = StaticBlocks()

    def send_request(
        self, stream_id: int, request: RawRequest, headers: Headers, body: bytes
    ) -> None:
        if not self._qpack_is_static():
            self.h3.send_headers(stream_id, headers, end_stream=not body)
            if body:
                self.h3.send_data(stream_id, body, end_stream=True)
            return
        frame = request.serialized.get(_STATIC_FRAME)
        if frame is None:
            frame = request.serialized[_STATIC_FRAME] = static_request_frame(headers)
        assert isinstance(frame, bytes)
        if body:
            frame += encode_frame(FrameType.DATA, body)
        self.quic.send_stream_data(stream_id, frame, end_stream=True)

    def _qpack_is_static(self) -> bool:
        """Whether the server's SETTINGS leave QPACK no dynamic table (None: not known yet)."""
        if self._static_qpack is None and self.fast:
            settings = self.h3.received_settings
            if settings is not None:
                self._static_qpack = not settings.get(Setting.QPACK_MAX_TABLE_CAPACITY, 0)
        return bool(self._static_qpack)

    def whole_response(
        self, event: StreamDataReceived, waiting: Container[int]
    ) -> tuple[DecodedBlock, list[bytes]] | None:
        """A response that came whole and simple (see `_h3_fast`): its decoded header block and
        its DATA. Only on a stream a request waits on, that aioquic holds nothing of and none of
        which was read before."""
        stream_id = event.stream_id
        if (
            not self.fast
            or not event.end_stream
            or stream_id not in waiting
            or stream_id in self._scans
            or self.h3._is_done
            or stream_id in self.h3._stream
        ):
            return None
        response = split_response(event.data, self.max_header_size)
        decoded = None if response is None else self._blocks.lookup(response.block)
        if response is None or decoded is None:
            return None
        length = decoded.content_length
        if length is not None and length != sum(len(data) for data in response.data):
            return None
        return decoded, response.data

    def before_h3_reads(self, stream_id: int) -> None:
        """aioquic's H3 layer is about to read a request stream whose request went out without
        it: give it the state its own send would have left."""
        if self.fast and stream_id & 0x3 == 0 and stream_id not in self.h3._stream:
            self.h3._stream[stream_id] = sent_request_state(stream_id)

    def headers_too_long(self, event: StreamDataReceived) -> bool:
        """Whether `event` brings a response HEADERS frame longer than `max_header_size`."""
        scan = self._scans.setdefault(event.stream_id, FrameScan())
        return scan.too_long_headers(event.data, self.max_header_size) is not None

    def forget(self, stream_id: int) -> None:
        self._scans.pop(stream_id, None)


class FrameScan:
    """Reads the H3 frame headers of one response stream as its bytes arrive, ahead of aioquic
    (which buffers a whole frame before it parses it): a HEADERS frame longer than the limit is
    known from its length, before any of it is held."""

    __slots__ = ("head", "skip")

    def __init__(self) -> None:
        self.head = b""  # a frame header cut by a packet boundary (at most 16 bytes)
        self.skip = 0  # the current frame's payload bytes still to come

    def too_long_headers(self, data: bytes, limit: int) -> int | None:
        """The declared length of a HEADERS frame over `limit` in `data`, else None."""
        chunk = self.head + data if self.head else data  # a cut header: then no payload is owed
        self.head = b""
        at = min(self.skip, len(chunk))
        self.skip -= at
        while at < len(chunk):
            kind = read_varint(chunk, at)
            length = read_varint(chunk, kind[1]) if kind else None
            if kind is None or length is None:
                self.head = chunk[at:]  # two varints: 16 bytes at most
                return None
            if kind[0] == FrameType.HEADERS and length[0] > limit:
                return length[0]
            at = length[1]
            taken = min(length[0], len(chunk) - at)
            at += taken
            self.skip = length[0] - taken
        return None
