"""`--max-header-size` on HTTP/3, sans I/O: scripted response bytes handed to the connection as
QUIC stream events. A HEADERS frame longer than the limit fails its request before any of it is
held (its length is read from the frame header), a field section over the limit once decoded
fails too, and either closes the connection with H3_EXCESSIVE_LOAD."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("aioquic", reason="HTTP/3 needs the http3 extra (aioquic)")

import pylsqpack
from aioquic.h3.connection import ErrorCode, FrameType, Setting, encode_frame
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import StreamDataReceived

from loadscope.engine._config import CloseReason
from loadscope.engine.transport._errors import HeaderTooLarge
from loadscope.engine.transport._h3 import AsyncHTTP3Connection, LimitedH3Connection
from loadscope.engine.transport._h3_paths import StreamPaths
from loadscope.engine.transport._stream import ResponseStream

from .h2_backend import RecordingObserver

LIMIT = 1_000


class Endpoint:
    """Stands in for the UDP endpoint: records the CONNECTION_CLOSE code."""

    def __init__(self) -> None:
        self.closed_with: list[int] = []

    def close(self, error_code: int = 0) -> None:
        self.closed_with.append(error_code)


def connection() -> tuple[AsyncHTTP3Connection, ResponseStream, Endpoint]:
    """A connection with request stream 0 waiting for its response."""
    conn = AsyncHTTP3Connection(RecordingObserver(), "t", "https://test:443")
    conn.max_header_size = LIMIT
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True))
    conn._quic, conn._h3 = quic, LimitedH3Connection(quic, LIMIT)
    conn._paths = StreamPaths(conn._h3, quic, LIMIT)
    endpoint = Endpoint()
    conn._endpoint = endpoint  # type: ignore[assignment]
    stream = conn._streams[0] = ResponseStream(
        asyncio.get_running_loop().create_future(), True, b"HTTP/3"
    )
    return conn, stream, endpoint


def headers_frame(headers: list[tuple[bytes, bytes]]) -> bytes:
    _, block = pylsqpack.Encoder().encode(0, headers)
    return encode_frame(FrameType.HEADERS, block)


def feed(conn: AsyncHTTP3Connection, data: bytes, *, step: int = 0, end: bool = False) -> None:
    """`data` on stream 0, in pieces of `step` bytes (0: at once)."""
    pieces = [data[at : at + step] for at in range(0, len(data), step)] if step else [data]
    for index, piece in enumerate(pieces):
        last = end and index == len(pieces) - 1
        conn.on_quic_event(StreamDataReceived(data=piece, end_stream=last, stream_id=0))


def assert_header_too_large(
    conn: AsyncHTTP3Connection, stream: ResponseStream, endpoint: Endpoint
) -> None:
    assert stream.waiter.done()
    error = stream.waiter.exception()
    assert isinstance(error, HeaderTooLarge) and error.kind == "header_too_large", error
    assert conn.closed and conn.close_reason is CloseReason.ERROR
    assert endpoint.closed_with == [int(ErrorCode.H3_EXCESSIVE_LOAD)]


async def test_a_headers_frame_longer_than_the_limit_fails_from_its_length() -> None:
    conn, stream, endpoint = connection()
    declared = encode_frame(FrameType.HEADERS, b"\x00" * 50_000)
    feed(conn, declared[:8])  # the frame header, and nothing of the 50 kB it announces
    assert_header_too_large(conn, stream, endpoint)
    held = conn._h3._stream.get(0) if conn._h3 else None  # aioquic was never handed the bytes
    assert held is None or not held.buffer


async def test_a_frame_header_cut_across_packets_is_still_read() -> None:
    conn, stream, endpoint = connection()
    feed(conn, encode_frame(FrameType.HEADERS, b"\x00" * 50_000)[:8], step=1)
    assert_header_too_large(conn, stream, endpoint)


async def test_a_field_section_over_the_limit_once_decoded_fails() -> None:
    conn, stream, endpoint = connection()
    many = [(b":status", b"200"), *[(f"x-{i}".encode(), b"v") for i in range(40)]]
    frame = headers_frame(many)
    assert len(frame) < LIMIT  # small on the wire, 40 x (name + value + 32) decoded
    feed(conn, frame, end=True)
    assert_header_too_large(conn, stream, endpoint)


async def test_headers_under_the_limit_and_a_bigger_body_pass() -> None:
    conn, stream, endpoint = connection()
    body = b"b" * 5 * LIMIT  # DATA frames are not held to the header limit
    data = headers_frame([(b":status", b"200"), (b"x-a", b"1")]) + encode_frame(
        FrameType.DATA, body
    )
    feed(conn, data, step=700, end=True)
    response = stream.waiter.result()
    assert (response.status, response.body) == (200, body)
    assert not conn.closed and endpoint.closed_with == []


def test_the_limit_is_advertised_as_max_field_section_size() -> None:
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True))
    h3 = LimitedH3Connection(quic, 12_345)
    assert h3.sent_settings is not None
    assert h3.sent_settings[Setting.MAX_FIELD_SECTION_SIZE] == 12_345
