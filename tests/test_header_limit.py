"""A response's header block has a size limit (`RunnerConfig.max_header_size`), HTTP/1.1 side.

A server that sends megabytes of header lines (many lines, or one endless line) makes the request
fail with `header_too_large`; the connection is closed and the client's memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from loadscope.engine._config import HttpVersion, RunnerConfig, SessionConfig
from loadscope.engine.diagnostics import ConnectionLedger
from loadscope.engine.transport import Runner, classify_os_error

MiB = 1024 * 1024
HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"


Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


def many_lines(total: int) -> Answer:
    line = b"X-Filler: " + b"a" * 1000 + b"\r\n"

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD)
        for _ in range(total // len(line)):
            writer.write(line)
            await writer.drain()  # no more in flight than the socket buffers hold
        writer.write(b"\r\nok")

    return answer


def one_endless_line(total: int) -> Answer:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD + b"X-Endless: ")
        chunk = b"b" * 16384
        for _ in range(total // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        writer.write(b"\r\n\r\nok")

    return answer


class HeaderServer:
    """Answers each request with what `answer` writes; counts what it managed to send."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.accepted = 0
        self.port = 0
        self.done = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                await self.answer(writer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up: what the test wants
        finally:
            writer.close()
            self.done.set()


@contextlib.asynccontextmanager
async def serving(server: HeaderServer) -> AsyncIterator[str]:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{server.port}"
        await asyncio.wait_for(server.done.wait(), 20)
    finally:
        listener.close()


async def exchange(base_url: str, limit: int) -> tuple[object, ConnectionLedger]:
    ledger = ConnectionLedger()
    runner = Runner(
        RunnerConfig(name="t", base_url=base_url, max_header_size=limit),
        SessionConfig(http_version=HttpVersion.HTTP1),
        ledger,
    )
    try:
        try:
            result: object = await runner.shared.exchange(runner.build_request("GET", "/"), 20.0)
        except Exception as exc:  # the error is the result under test
            result = exc
        conns = list(ledger.live_connections())
        await asyncio.gather(*(c.wait_closed() for c in conns))
    finally:
        await runner.aclose()
    return result, ledger


@pytest.mark.parametrize("answer", [many_lines, one_endless_line])
async def test_megabytes_of_headers_fail_the_request_and_close(
    answer: Callable[[int], Answer],
) -> None:
    server = HeaderServer(answer(8 * MiB))
    tracemalloc.start()
    try:
        async with serving(server) as url:
            result, ledger = await exchange(url, 64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, Exception)
    assert classify_os_error(result)[0] == "header_too_large"
    assert ledger.open == 0
    assert ledger.closed_by_reason["error"] == 1
    assert peak < 4 * MiB  # 8 MiB were on offer: the client stopped reading


async def test_headers_under_the_limit_are_kept() -> None:
    server = HeaderServer(many_lines(200 * 1024))
    async with serving(server) as url:
        result, ledger = await exchange(url, 1_048_576)
    assert not isinstance(result, Exception), result
    assert result.status == 200 and result.body == b"ok"  # type: ignore[attr-defined]
    assert len(result.headers) > 190  # type: ignore[attr-defined]
    assert ledger.opened_total == 1


def test_the_default_limit_is_one_mebibyte() -> None:
    assert RunnerConfig(name="t", base_url="http://127.0.0.1/").max_header_size == 1_048_576
