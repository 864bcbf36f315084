"""HTTP/3 sends what it has once per loop pass, sans I/O: every aioquic transmit walks all open
streams, so requests started together, or datagrams read together, share one; and what it reads
is acknowledged by that send, not by a packet of its own 1 ms later."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aioquic", reason="HTTP/3 needs the http3 extra (aioquic)")

from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import HandshakeCompleted

from loadscope.engine.target._cert import write_self_signed
from loadscope.engine.transport._h3 import (
    AsyncHTTP3Connection,
    LimitedH3Connection,
    _QuicEndpoint,
    client_quic,
)
from loadscope.engine.transport._h3_paths import StreamPaths
from loadscope.engine.transport._wire import Origin, RawRequest

from .h2_backend import RecordingObserver

CLIENT, SERVER = ("127.0.0.1", 50000), ("127.0.0.1", 443)


class RecordingTransport:
    """Stands in for the UDP transport: keeps what is sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return False


def connection() -> tuple[AsyncHTTP3Connection, list[int]]:
    """A connection on a recording transport, and the count of its transmits."""
    conn = AsyncHTTP3Connection(RecordingObserver(), "t", "https://test:443")
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN))
    quic.connect(("127.0.0.1", 443), now=0.0)
    quic._remote_max_streams_bidi = 100  # as the server's transport parameters would allow
    conn._quic, conn._h3 = quic, LimitedH3Connection(quic, 1000)
    conn._paths = StreamPaths(conn._h3, quic, 1000)
    endpoint = conn._endpoint = _QuicEndpoint(quic, conn)
    endpoint.connection_made(RecordingTransport())  # type: ignore[arg-type]
    transmits = [0]
    transmit = endpoint.transmit

    def counted() -> None:
        transmits[0] += 1
        transmit()

    endpoint.transmit = counted  # type: ignore[method-assign]
    return conn, transmits


def request() -> RawRequest:
    origin = Origin("https", "test", 443)
    return RawRequest("GET", origin, b"test", b"/", [(b"host", b"test")])


async def passes(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_requests_started_in_one_pass_share_one_transmit() -> None:
    conn, transmits = connection()
    tasks = [asyncio.create_task(conn.send(request(), timeout=None)) for _ in range(20)]
    await passes(3)
    assert len(conn._streams) == 20
    assert transmits[0] == 1
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_datagrams_read_in_one_pass_share_one_transmit() -> None:
    conn, transmits = connection()
    endpoint = conn._endpoint
    assert isinstance(endpoint, _QuicEndpoint)
    for _ in range(5):
        endpoint.datagram_received(b"\x40" + b"\x00" * 40, ("127.0.0.1", 443))
    await passes(2)
    assert transmits[0] == 1
    assert conn.bytes_received == 5 * 41


def quic_pair(tmp_path: Path) -> tuple[QuicConnection, QuicConnection]:
    """A client made as loadscope makes it and an aioquic server, handshaken in memory."""
    cert, key = write_self_signed(tmp_path)
    client_config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    client_config.verify_mode = ssl.CERT_NONE
    client = client_quic(client_config)
    client.connect(SERVER, now=0.0)
    server_config = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    server_config.load_cert_chain(cert, key)
    server = QuicConnection(
        configuration=server_config,
        original_destination_connection_id=client.original_destination_connection_id,
    )
    exchange(client, server, now=0.0)
    while (event := client.next_event()) is not None:
        if isinstance(event, HandshakeCompleted):
            return client, server
    raise AssertionError("no handshake")


def exchange(client: QuicConnection, server: QuicConnection, now: float) -> None:
    for _ in range(10):
        moved = False
        for sender, receiver, origin in ((client, server, CLIENT), (server, client, SERVER)):
            for data, _ in sender.datagrams_to_send(now=now):
                receiver.receive_datagram(data, origin, now=now)
                moved = True
        if not moved:
            return


async def test_an_answer_is_acknowledged_by_the_next_send_not_a_timer(tmp_path: Path) -> None:
    client, server = quic_pair(tmp_path)
    now = 1.0
    stream_id = client.get_next_available_stream_id()
    client.send_stream_data(stream_id, b"request", end_stream=True)
    for data, _ in client.datagrams_to_send(now=now):
        server.receive_datagram(data, CLIENT, now=now)
    server.send_stream_data(stream_id, b"answer", end_stream=True)
    answers = [data for data, _ in server.datagrams_to_send(now=now)]
    assert answers
    for data in answers:
        client.receive_datagram(data, SERVER, now=now)
    later = now + 1e-6  # the loop's next pass: aioquic paces what is due at this instant
    assert client.datagrams_to_send(now=later), "the ACK waits for a timer"
