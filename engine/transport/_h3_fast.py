"""HTTP/3 request streams that need nothing of aioquic's H3 layer, read and written without it.

A load test sends the same request over and over and the server answers with the same few header
blocks. When QPACK's dynamic table is out of the picture, a header block is a pure function of
its header list and back, so each is encoded or decoded once:

- a request's HEADERS frame, once the server's SETTINGS say its decoder has no dynamic table
  (QPACK_MAX_TABLE_CAPACITY 0): aioquic's encoder then writes exactly these bytes too;
- a response whose whole stream arrives in one piece (FIN included) as one HEADERS frame with
  Required Insert Count 0, then DATA frames and nothing else: its header list is decoded and
  checked once (a decoder sends nothing for such a block, RFC 9204 §4.4.1).

Anything else (a dynamic-table block, an interim response, trailers, an unknown frame, a
content-length that does not match, a block that does not decode or check) goes to aioquic's H3
layer as before, so every error it reports stays its own. `tests/test_h3_fast.py` feeds the
same scripted bytes both ways and compares.
"""

from __future__ import annotations

import pylsqpack
from aioquic.h3.connection import (
    FrameType,
    H3Stream,
    HeadersState,
    encode_frame,
    is_interim_response,
    validate_response_headers,
)

from ._h3_control import read_varint

Headers = list[tuple[bytes, bytes]]
_FIELD_OVERHEAD = 32  # per field line, as RFC 9114 (and HPACK) size a field section
_MAX_REMEMBERED = 64  # header blocks (a `date` header makes a new one per second)
_HEADERS = int(FrameType.HEADERS)  # a frame type of one byte, as written (RFC 9000 §16)
_DATA = int(FrameType.DATA)
_STATIC_BLOCK = b"\x00\x00"  # Required Insert Count 0, Base 0: no dynamic table reference


class DecodedBlock:
    """A response header block decoded and checked: the list, its content-length, and its size
    as RFC 9114 counts a field section (name, value and 32 per line)."""

    __slots__ = ("content_length", "headers", "size")

    def __init__(self, headers: Headers, content_length: int | None) -> None:
        self.headers = headers
        self.content_length = content_length
        self.size = field_section_size(headers)


def field_section_size(headers: Headers) -> int:
    return sum(len(name) + len(value) + _FIELD_OVERHEAD for name, value in headers)


class StaticBlocks:
    """Response header blocks without dynamic-table references, decoded once each."""

    def __init__(self) -> None:
        self._decoder = pylsqpack.Decoder(0, 0)
        self._blocks: dict[bytes, DecodedBlock | None] = {}

    def lookup(self, block: bytes) -> DecodedBlock | None:
        """The decoded block, or None when it must go through aioquic (it fails, or is not a
        final response's)."""
        if not block.startswith(_STATIC_BLOCK):
            return None
        try:
            return self._blocks[block]
        except KeyError:
            pass
        decoded = self._decode(block)
        if len(self._blocks) >= _MAX_REMEMBERED:
            self._blocks.clear()
        self._blocks[block] = decoded
        return decoded

    def _decode(self, block: bytes) -> DecodedBlock | None:
        try:
            _, headers = self._decoder.feed_header(0, block)
            if is_interim_response(headers):
                return None
            state = H3Stream(0)  # what aioquic's check notes: the content-length
            validate_response_headers(headers, state)
        except Exception:  # aioquic decodes and checks it again, and reports what it finds
            return None
        return DecodedBlock(headers, state.expected_content_length)


class SimpleResponse:
    """One response stream's bytes, split: its header block and its DATA payloads."""

    __slots__ = ("block", "data")

    def __init__(self, block: bytes, data: list[bytes]) -> None:
        self.block = block
        self.data = data


def split_response(data: bytes, max_block: int) -> SimpleResponse | None:
    """A HEADERS frame (at most `max_block` long) and then only whole DATA frames: None for
    anything else (a frame type written longer than it has to be included)."""
    if not data or data[0] != _HEADERS:
        return None
    at, end = _frame_payload(data, 1)
    if end > len(data) or end - at > max_block:
        return None
    response = SimpleResponse(data[at:end], [])
    while end < len(data):
        if data[end] != _DATA:
            return None
        at, end = _frame_payload(data, end + 1)
        if end > len(data):
            return None
        response.data.append(data[at:end])
    return response


def _frame_payload(data: bytes, at: int) -> tuple[int, int]:
    """Where the payload whose length is at `at` starts and ends; past the data if cut."""
    if at < len(data) and data[at] < 0x40:  # one-byte length, nearly always
        return at + 1, at + 1 + data[at]
    length = read_varint(data, at)
    if length is None:
        return len(data) + 1, len(data) + 1
    return length[1], length[1] + length[0]


def static_request_frame(headers: Headers) -> bytes:
    """The HEADERS frame of a request, encoded with no dynamic table."""
    encoder_stream, block = pylsqpack.Encoder().encode(0, headers)
    assert not encoder_stream  # an encoder without a table inserts nothing
    return encode_frame(FrameType.HEADERS, block)


def sent_request_state(stream_id: int) -> H3Stream:
    """aioquic's state of a request stream whose HEADERS (and FIN) went out without it, as
    `send_headers(..., end_stream=True)` would have left it."""
    state = H3Stream(stream_id)
    state.headers_send_state = HeadersState.AFTER_HEADERS
    state.sending_ended = True
    return state
