"""The server's GOAWAY, read from its HTTP/3 control stream.

aioquic (1.7) parses the peer's control stream but drops GOAWAY's payload, so a client cannot
learn from it which requests the server will not serve. This reader is handed the same stream
bytes as aioquic's H3 layer (it consumes nothing) and keeps only what it needs: the stream type
that starts each server unidirectional stream, then the control stream's frame headers,
skipping payloads, except a GOAWAY's stream id. RFC 9114 §6.2.1, §7.2.6. `read_varint` also
serves the response streams' frame scan in `_h3`.
"""

from __future__ import annotations

_CONTROL_STREAM = 0x00
_GOAWAY_FRAME = 0x07
_MAX_VARINT = 8  # bytes; a GOAWAY's payload is one


def is_server_unidirectional(stream_id: int) -> bool:
    return stream_id & 0x3 == 0x3


def read_varint(data: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """A QUIC variable-length integer at `at` and where it ends (None: not all there yet).
    Our own: aioquic.buffer exports neither Buffer nor BufferReadError to mypy."""
    if at >= len(data):
        return None
    size = 1 << (data[at] >> 6)
    if at + size > len(data):
        return None
    value = int.from_bytes(data[at : at + size], "big") & ((1 << (8 * size - 2)) - 1)
    return value, at + size


class ControlStreamReader:
    """Feed it every server unidirectional stream's data; it answers each GOAWAY's stream id."""

    def __init__(self) -> None:
        self._control: int | None = None
        self._typing: dict[int, bytearray] = {}  # streams whose type is not read yet
        self._ignored: set[int] = set()  # push, QPACK and other streams
        self._buffer = bytearray()
        self._skip = 0  # payload bytes of the current frame still to pass over

    def feed(self, stream_id: int, data: bytes) -> list[int]:
        if stream_id in self._ignored or not data:
            return []
        if stream_id == self._control:
            return self._frames(data)
        buffer = self._typing.setdefault(stream_id, bytearray())
        buffer += data
        typed = read_varint(buffer, 0)
        if typed is None:
            return []
        del self._typing[stream_id]
        stream_type, end = typed
        if stream_type != _CONTROL_STREAM or self._control is not None:
            self._ignored.add(stream_id)
            return []
        self._control = stream_id
        return self._frames(bytes(buffer[end:]))

    def _frames(self, data: bytes) -> list[int]:
        goaways: list[int] = []
        view = memoryview(data)
        if self._skip:
            skipped = min(self._skip, len(view))
            self._skip -= skipped
            view = view[skipped:]
        self._buffer += view
        while not self._skip:
            frame = self._next_frame()
            if frame is None:
                break
            goaways.extend(frame)
        return goaways

    def _next_frame(self) -> list[int] | None:
        """One frame off the buffer: [GOAWAY's id] or []; None until more data arrives."""
        buffer = self._buffer
        kind = read_varint(buffer, 0)
        length = None if kind is None else read_varint(buffer, kind[1])
        if kind is None or length is None:
            return None
        (frame_type, _), (size, start) = kind, length
        if frame_type == _GOAWAY_FRAME and size <= _MAX_VARINT:
            if len(buffer) < start + size:
                return None
            goaway = read_varint(buffer, start)
            del buffer[: start + size]
            return [] if goaway is None else [goaway[0]]
        available = min(size, len(buffer) - start)
        del buffer[: start + available]
        self._skip = size - available
        return []
