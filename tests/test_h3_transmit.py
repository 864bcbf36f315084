"""HTTP/3 sends what it has once per loop pass, sans I/O: every aioquic transmit walks all open
streams, so requests started together, or datagrams read together, share one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("aioquic", reason="HTTP/3 needs the http3 extra (aioquic)")

from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

from loadscope.engine.transport._h3 import AsyncHTTP3Connection, LimitedH3Connection, _QuicEndpoint
from loadscope.engine.transport._wire import Origin, RawRequest

from .h2_backend import RecordingObserver


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
