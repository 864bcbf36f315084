"""HTTP/3's fast path (`_h3_fast`) against aioquic's H3 layer, sans I/O: the same scripted
response bytes go to a connection with the fast path and to one without it, and each request
must end the same (response or error kind and message), and each connection too (closed or not,
with which code to the peer). Every case is answered twice, on two streams, so the second meets
the header blocks the first one remembered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("aioquic", reason="HTTP/3 needs the http3 extra (aioquic)")

import pylsqpack
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection, encode_frame
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import StreamDataReceived

from loadscope.engine.transport._h3 import AsyncHTTP3Connection, LimitedH3Connection
from loadscope.engine.transport._h3_fast import static_request_frame
from loadscope.engine.transport._h3_paths import StreamPaths
from loadscope.engine.transport._serialize import h2_headers
from loadscope.engine.transport._stream import ResponseStream
from loadscope.engine.transport._wire import Origin, RawRequest

from .h2_backend import RecordingObserver

LIMIT = 1_000
MAX_BODY = 4_000
OK = [(b":status", b"200"), (b"content-type", b"text/plain"), (b"server", b"test")]
REQUEST = RawRequest("GET", Origin("https", "test", 443), b"test", b"/", [(b"host", b"test")])


class Endpoint:
    """Stands in for the UDP endpoint: records the CONNECTION_CLOSE code of a close."""

    def __init__(self) -> None:
        self.closed_with: list[int] = []

    def close(self, error_code: int = 0) -> None:
        self.closed_with.append(error_code)

    def transmit(self) -> None:
        pass

    def transmit_soon(self) -> None:
        pass


def connection(*, fast: bool) -> tuple[AsyncHTTP3Connection, QuicConnection, Endpoint]:
    conn = AsyncHTTP3Connection(RecordingObserver(), "t", "https://test:443", max_body=MAX_BODY)
    conn.max_header_size = LIMIT
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN))
    quic._remote_max_streams_bidi = 100  # as the server's transport parameters would allow
    conn._quic, conn._h3 = quic, LimitedH3Connection(quic, LIMIT)
    conn._paths = StreamPaths(conn._h3, quic, LIMIT)
    endpoint = Endpoint()
    conn._endpoint = endpoint  # type: ignore[assignment]
    if not fast:
        conn._paths.whole_response = lambda event, waiting: None  # type: ignore[method-assign]
    return conn, quic, endpoint


def block(headers: list[tuple[bytes, bytes]]) -> bytes:
    return pylsqpack.Encoder().encode(0, headers)[1]


def headers(fields: list[tuple[bytes, bytes]]) -> bytes:
    return encode_frame(FrameType.HEADERS, block(fields))


def data(payload: bytes) -> bytes:
    return encode_frame(FrameType.DATA, payload)


def frame(kind: int, payload: bytes) -> bytes:
    return encode_uint_var(kind) + encode_uint_var(len(payload)) + payload


CASES: dict[str, list[bytes]] = {
    "body with content-length": [headers([*OK, (b"content-length", b"2")]) + data(b"ok")],
    "body in three frames, one empty": [headers(OK) + data(b"ab") + data(b"") + data(b"cd")],
    "body ending in an empty frame": [headers(OK) + data(b"ab") + data(b"")],
    "headers only": [headers(OK)],
    "body of two-byte length": [headers(OK) + data(b"x" * 300)],
    "frame type written in two bytes": [b"\x40\x01" + headers(OK)[1:] + data(b"ok")],
    "length written in two bytes": [headers(OK)[:1] + b"\x40" + headers(OK)[1:] + data(b"ok")],
    "headers only, content-length 0": [headers([*OK, (b"content-length", b"0")])],
    "content-length above the body": [headers([*OK, (b"content-length", b"5")]) + data(b"ok")],
    "content-length below the body": [headers([*OK, (b"content-length", b"1")]) + data(b"ok")],
    "content-length not a number": [headers([*OK, (b"content-length", b"x")]) + data(b"ok")],
    "interim then final": [headers([(b":status", b"103")]) + headers(OK) + data(b"ok")],
    "interim alone": [headers([(b":status", b"103")])],
    "trailers": [headers(OK) + data(b"ok") + headers([(b"x-checksum", b"1")])],
    "unknown frame between": [headers(OK) + frame(0x21, b"grease") + data(b"ok")],
    "unknown frame last": [headers(OK) + data(b"ok") + frame(0x21, b"")],
    "upper-case field name": [headers([*OK, (b"X-Upper", b"1")]) + data(b"ok")],
    "status 101": [headers([(b":status", b"101")])],
    "status under 100": [headers([(b":status", b"099")]) + data(b"ok")],
    "status of ten digits": [headers([(b":status", b"9999999999")]) + data(b"ok")],
    "no status": [headers([(b"server", b"test")]) + data(b"ok")],
    "a request pseudo-header": [headers([*OK, (b":path", b"/")]) + data(b"ok")],
    "headers frame over the limit": [headers([*OK, (b"x-big", b"v" * 2 * LIMIT)])],
    "field section over the limit decoded": [
        headers([*OK, *[(f"x-{i}".encode(), b"v") for i in range(40)]])
    ],
    "body over max_body": [headers(OK) + data(b"b" * (MAX_BODY + 1))],
    "data frame truncated by FIN": [headers(OK) + data(b"okay")[:-1]],
    "headers frame truncated by FIN": [headers(OK)[:-1]],
    "data before headers": [data(b"ok") + headers(OK)],
    "goaway frame on a request stream": [headers(OK) + frame(FrameType.GOAWAY, b"\x00")],
    "push promise": [headers(OK) + frame(FrameType.PUSH_PROMISE, b"\x00" + block(OK))],
    "block that does not decode": [encode_frame(FrameType.HEADERS, b"\x00\x00\xff\xff\xff")],
    "block with a dynamic reference": [encode_frame(FrameType.HEADERS, b"\x02\x00\x80")],
    "empty stream": [b""],
    "split in two events": [headers(OK), data(b"ok")],
    "split inside the headers frame": [headers(OK)[:3], headers(OK)[3:] + data(b"ok")],
}


@dataclass
class Outcome:
    requests: list[tuple[Any, ...]]
    closed: bool
    close_reason: object
    endpoint_closed_with: list[int]
    quic_close: tuple[int, str] | None
    stop_sending: list[int]


def answer(fast: bool, pieces: list[bytes]) -> Outcome:
    """Streams 0 and 4 each get `pieces` (the last with FIN), one after the other."""
    conn, quic, endpoint = connection(fast=fast)
    loop = asyncio.get_running_loop()
    requests: list[tuple[Any, ...]] = []
    conn._paths._static_qpack = True  # the server's SETTINGS: no dynamic table
    for stream_id in (0, 4):
        stream = conn._streams[stream_id] = ResponseStream(loop.create_future(), True, b"HTTP/3")
        conn._send_request(stream_id, REQUEST, h2_headers(REQUEST), b"")
        for index, piece in enumerate(pieces):
            ended = index == len(pieces) - 1
            event = StreamDataReceived(data=piece, end_stream=ended, stream_id=stream_id)
            conn.on_quic_event(event)
        requests.append(result(stream))
        if stream.waiter.done():
            conn._end_stream(stream_id)
    close = quic._close_event
    stopped = [sid for sid, s in quic._streams.items() if s.receiver.stop_pending]
    return Outcome(
        requests,
        conn.closed,
        conn.close_reason,
        endpoint.closed_with,
        None if close is None else (close.error_code, close.reason_phrase),
        stopped,
    )


def result(stream: ResponseStream) -> tuple[Any, ...]:
    if not stream.waiter.done():
        return ("pending", stream.status, stream.headers)
    error = stream.waiter.exception()
    if error is not None:
        return ("error", type(error).__name__, getattr(error, "kind", None), str(error))
    response = stream.waiter.result()
    return ("ok", response.status, response.headers, response.body, response.body_size)


@pytest.mark.parametrize("case", list(CASES))
async def test_the_fast_path_ends_each_request_as_aioquic_does(case: str) -> None:
    fast, slow = answer(True, CASES[case]), answer(False, CASES[case])
    assert fast == slow


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "aioquic-path"])
@pytest.mark.parametrize("status", [b"099", b"000"])
async def test_a_status_under_100_fails_only_its_stream_as_a_protocol_error(
    fast: bool, status: bytes
) -> None:
    """aioquic's own check takes any three digits (it refuses the rest with H3_MESSAGE_ERROR)."""
    outcome = answer(fast, [headers([(b":status", status)]) + data(b"ok")])
    message = f"malformed response: :status {status!r}"
    assert outcome.requests == [("error", "ProtocolError", "protocol_error", message)] * 2
    assert not outcome.closed and outcome.stop_sending == [0, 4]


async def test_a_plain_answer_takes_the_fast_path() -> None:
    conn, _, _ = connection(fast=True)
    stream = conn._streams[0] = ResponseStream(
        asyncio.get_running_loop().create_future(), True, b"HTTP/3"
    )
    payload = headers(OK) + data(b"ok")
    conn.on_quic_event(StreamDataReceived(data=payload, end_stream=True, stream_id=0))
    assert stream.waiter.result().body == b"ok"
    assert conn._h3 is not None and 0 not in conn._h3._stream  # aioquic never saw it
    assert 0 not in conn._paths._scans


def test_a_static_request_frame_is_what_aioquic_sends_to_a_server_without_a_table() -> None:
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN))
    quic._remote_max_streams_bidi = 100
    h3 = H3Connection(quic)
    fields = [(b":method", b"GET"), (b":authority", b"a:1"), (b":scheme", b"https")]
    fields += [(b":path", b"/x?y=1"), (b"user-agent", b"loadscope"), (b"x-k", b"v")]
    for stream_id in (0, 4):  # aioquic's encoder has the server's (absent) table from the start
        h3.send_headers(stream_id, fields, end_stream=True)
        sent = quic._streams[stream_id].sender._buffer
        assert bytes(sent) == static_request_frame(fields)


@pytest.mark.parametrize("body", [b"", b"payload" * 20])
async def test_a_request_sent_without_aioquic_has_the_bytes_aioquic_sends(body: bytes) -> None:
    origin = Origin("https", "test", 443)
    request = RawRequest("POST", origin, b"test", b"/up?x=1", [(b"host", b"test")], body)
    sent = []
    for static in (True, False):
        conn, quic, _ = connection(fast=True)
        conn._paths._static_qpack = (
            static  # False: aioquic's encoder, its table still empty (size 0)
        )
        conn._send_request(0, request, h2_headers(request), body)
        sent.append((bytes(quic._streams[0].sender._buffer), quic._streams[0].sender._buffer_fin))
    assert sent[0] == sent[1]
