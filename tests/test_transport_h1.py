"""HTTP/1.1 connections against an in-memory peer that scripts the server's bytes (no sockets)."""

from __future__ import annotations

import asyncio

import pytest

from loadscope.engine._config import HttpVersion, RunnerConfig, SessionConfig
from loadscope.engine.diagnostics import ConnectionLedger
from loadscope.engine.transport import RawResponse, Runner, classify_os_error
from loadscope.engine.transport._serialize import h1_bytes

from .mock_backend import CLOSE, RESET, SILENT, MockNetwork, ScriptedPeer, chunked, response

BASE = "http://127.0.0.1:8080"  # any address: the mock network connects nowhere


class Client:
    """A runner over a mock network, and what it takes to read the outcome."""

    def __init__(self, *peers: ScriptedPeer, max_header_size: int = 1_048_576) -> None:
        self.network = MockNetwork(*peers)
        self.ledger = ConnectionLedger()
        self.runner = Runner(
            RunnerConfig(name="t", base_url=BASE, max_header_size=max_header_size),
            SessionConfig(http_version=HttpVersion.HTTP1),
            self.ledger,
            network=self.network,
        )

    async def get(
        self, path: str = "/", *, method: str = "GET", keep_body: bool = True, timeout: float = 5.0
    ) -> RawResponse:
        request = self.runner.build_request(method, path, keep_body=keep_body)
        return await self.runner.shared.exchange(request, timeout)

    async def error_kind(self, path: str = "/", **kwargs: object) -> str:
        with pytest.raises(Exception) as caught:
            await self.get(path, **kwargs)  # type: ignore[arg-type]
        return classify_os_error(caught.value)[0]

    async def settle(self) -> None:
        """Let scheduled closes land."""
        for _ in range(5):
            await asyncio.sleep(0)

    async def close(self) -> None:
        await self.runner.aclose()


async def test_keep_alive_sends_two_requests_on_one_connection() -> None:
    peer = ScriptedPeer(response(200, b"one"), response(200, b"two"))
    client = Client(peer)
    first, second = await client.get("/a"), await client.get("/b")
    assert (first.body, second.body) == (b"one", b"two")
    assert first.new_connection and not second.new_connection
    assert client.network.opened == 1
    request = client.runner.build_request("GET", "/a")
    assert peer.requests[0] == h1_bytes(request)  # exactly the serialized request, one write
    assert peer.requests[0].startswith(b"GET /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n")
    await client.close()


async def test_a_response_split_into_single_bytes_is_read_whole() -> None:
    data = response(200, b"hello world", [("X-A", "1")])
    client = Client(ScriptedPeer([data[i : i + 1] for i in range(len(data))]))
    raw = await client.get()
    assert raw.status == 200 and raw.body == b"hello world"
    assert (b"X-A", b"1") in raw.headers
    await client.close()


async def test_chunked_bodies_are_joined() -> None:
    data = chunked(200, b"abc", b"defgh")
    client = Client(ScriptedPeer([data[:20], data[20:31], data[31:]]))
    raw = await client.get()
    assert raw.body == b"abcdefgh" and raw.body_size == 8
    await client.close()


async def test_a_body_not_kept_is_counted() -> None:
    client = Client(ScriptedPeer(response(200, b"x" * 5000)))
    raw = await client.get(keep_body=False)
    assert raw.body == b"" and raw.body_size == 5000
    await client.close()


async def test_a_body_read_to_the_close_is_complete() -> None:
    client = Client(ScriptedPeer([response(200, b"until-eof", length=False), CLOSE]))
    raw = await client.get()
    assert raw.body == b"until-eof"
    await client.settle()
    assert client.ledger.closed_by_reason["peer_closed"] == 1
    await client.close()


async def test_connection_close_is_not_reused() -> None:
    client = Client(
        ScriptedPeer(response(200, b"a", [("Connection", "close")])),
        ScriptedPeer(response(200, b"b")),
    )
    await client.get()
    await client.get()
    assert client.network.opened == 2
    assert client.ledger.closed_by_reason["connection_close"] == 1
    await client.close()


async def test_head_and_204_have_no_body() -> None:
    client = Client(
        ScriptedPeer(
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            response(200, b"after"),
        )
    )
    head = await client.get(method="HEAD")
    assert head.status == 200 and head.body == b""
    assert (await client.get()).status == 204
    assert (await client.get()).body == b"after"  # the same connection, still in step
    assert client.network.opened == 1
    await client.close()


async def test_an_interim_100_is_skipped() -> None:
    client = Client(ScriptedPeer([b"HTTP/1.1 100 Continue\r\n\r\n", response(201, b"made")]))
    raw = await client.get()
    assert raw.status == 201 and raw.body == b"made"
    await client.close()


@pytest.mark.parametrize(
    "answer, kind",
    [
        (b"NOT HTTP AT ALL\r\n\r\n", "protocol_error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n", "protocol_error"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", CLOSE], "peer_closed"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", RESET], "connection_reset"),
        (SILENT, "timeout"),
    ],
)
async def test_a_broken_response_fails_with_its_kind(answer: object, kind: str) -> None:
    client = Client(ScriptedPeer(answer))  # type: ignore[arg-type]
    assert await client.error_kind(timeout=0.05) == kind
    await client.settle()
    assert client.ledger.open == 0  # the connection is never reused after a failure
    await client.close()


async def test_a_timeout_closes_the_connection_and_the_next_request_opens_one() -> None:
    client = Client(ScriptedPeer(SILENT), ScriptedPeer(response(200, b"ok")))
    assert await client.error_kind(timeout=0.05) == "timeout"
    assert (await client.get()).body == b"ok"
    assert client.network.opened == 2 and client.network.transports[0].closed
    await client.close()


async def test_bytes_on_an_idle_connection_drop_it() -> None:
    client = Client(ScriptedPeer(response(200, b"ok")), ScriptedPeer(response(200, b"fresh")))
    await client.get()
    client.network.transports[0].push(b"HTTP/1.1 200 OK\r\n")
    await client.settle()
    assert client.ledger.closed_by_reason["error"] == 1
    assert (await client.get()).body == b"fresh"
    await client.close()


async def test_headers_past_the_limit_fail_and_close() -> None:
    lines = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 100) for i in range(200))
    client = Client(ScriptedPeer([b"HTTP/1.1 200 OK\r\n", lines]), max_header_size=4096)
    assert await client.error_kind() == "header_too_large"
    await client.settle()
    assert client.network.transports[0].closed and client.ledger.open == 0
    await client.close()


async def test_a_kept_alive_connection_the_server_closed_is_retried_for_a_get() -> None:
    # The first connection answers once, then the server closes it while it sits idle; the
    # GET that finds it dead before any response byte is sent again on a new connection.
    client = Client(ScriptedPeer(response(200, b"1"), CLOSE), ScriptedPeer(response(200, b"2")))
    await client.get()
    assert (await client.get()).body == b"2"
    assert client.network.opened == 2
    await client.close()


async def test_a_post_is_not_retried_when_the_server_closes_before_answering() -> None:
    client = Client(ScriptedPeer(response(200, b"1"), CLOSE), ScriptedPeer(response(200, b"2")))
    await client.get()
    assert await client.error_kind(method="POST") == "peer_closed"
    assert client.network.opened == 1
    await client.close()
