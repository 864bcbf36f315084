"""A small counting HTTP proxy on loopback, for the proxy tests.

Plain-HTTP requests arrive in absolute form and are forwarded (rewritten to origin form) over one
upstream connection per client connection; CONNECT opens a tunnel and pipes bytes both ways.
Counters are the ground truth: `accepted` client connections, `tunnels` CONNECTs granted,
`forwarded` requests, and the request lines and Proxy-Authorization values seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from urllib.parse import urlsplit

import httptools


class CountingProxy:
    def __init__(self, *, require_auth: str | None = None) -> None:
        self.require_auth = require_auth
        self.accepted = 0
        self.tunnels = 0
        self.forwarded = 0
        self.refused = 0
        self.request_lines: list[str] = []
        self.authorizations: list[str] = []
        self._server: asyncio.Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, headers = _parse_head(head)
                self.request_lines.append(line)
                if "proxy-authorization" in headers:
                    self.authorizations.append(headers["proxy-authorization"])
                if not self._authorized(headers):
                    self.refused += 1
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                    await writer.drain()
                    return
                method, target, _ = line.split(" ", 2)
                if method == "CONNECT":
                    await self._tunnel(target, reader, writer)
                    return
                upstream = upstream or await _open_upstream(target)
                await self._forward(method, target, head, headers, reader, writer, upstream)
        finally:
            if upstream is not None:
                upstream[1].close()

    def _authorized(self, headers: dict[str, str]) -> bool:
        return self.require_auth is None or headers.get("proxy-authorization") == self.require_auth

    async def _tunnel(
        self, authority: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = authority.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        self.tunnels += 1
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()

    async def _forward(
        self,
        method: str,
        target: str,
        head: bytes,
        headers: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        parts = urlsplit(target)
        origin_form = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        rest = head.split(b"\r\n", 1)[1]
        kept = b"".join(
            line + b"\r\n"
            for line in rest.split(b"\r\n")
            if line and not line.lower().startswith(b"proxy-authorization:")
        )
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        request = f"{method} {origin_form} HTTP/1.1\r\n".encode() + kept + b"\r\n" + body
        up_reader, up_writer = upstream
        up_writer.write(request)
        self.forwarded += 1
        writer.write(await _read_response(up_reader))
        await writer.drain()


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


async def _open_upstream(target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(target)
    assert parts.hostname is not None
    return await asyncio.open_connection(parts.hostname, parts.port or 80)


class _ResponseEnd:
    def __init__(self) -> None:
        self.done = False

    def on_message_complete(self) -> None:
        self.done = True


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    end = _ResponseEnd()
    parser = httptools.HttpResponseParser(end)
    data = bytearray()
    while not end.done:
        chunk = await reader.read(65536)
        if not chunk:
            break
        data += chunk
        parser.feed_data(chunk)
    return bytes(data)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.write_eof()


class ThreadedProxy:
    """A `CountingProxy` on its own event loop in a thread, for the command line's subprocess."""

    def __init__(self, **options: str | None) -> None:
        self.proxy = CountingProxy(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.__aenter__(), self._loop).result(10)
        return self.proxy

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.__aexit__(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
