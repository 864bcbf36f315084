"""Opening connections to one origin: resolve once, TCP connect, optional TLS, then hand over
to an HTTP/1.1 or HTTP/2 protocol object chosen by ALPN (or by configuration on plain TCP)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from loadscope.engine._config import HttpVersion
from loadscope.engine.diagnostics._ledger import ConnectionLedger
from loadscope.engine.transport._errors import (
    ConnectError,
    ConnectTimeout,
    TLSError,
    classify_os_error,
)
from loadscope.engine.transport._h1 import AsyncHTTP11Connection
from loadscope.engine.transport._h2 import AsyncHTTP2Connection


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def is_tls(self) -> bool:
        return self.scheme == "https"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


class _Handshake(asyncio.Protocol):
    """Holds a fresh transport until we know which HTTP protocol will speak on it."""

    def __init__(self) -> None:
        self.buffered: list[bytes] = []
        self.lost: Exception | None = None
        self.is_lost = False

    def data_received(self, data: bytes) -> None:
        self.buffered.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_lost = True
        self.lost = exc


Connection = AsyncHTTP11Connection | AsyncHTTP2Connection


class AsyncConnector:
    """Opens connections to one origin for one runner. DNS is resolved once per session."""

    def __init__(
        self,
        runner: str,
        origin: Origin,
        ledger: ConnectionLedger,
        ssl_context: Callable[[HttpVersion], ssl.SSLContext],
        connect_timeout: float,
    ) -> None:
        self.runner = runner
        self.origin = origin
        self.ledger = ledger
        self._ssl_context = ssl_context
        self._connect_timeout = connect_timeout
        self._address: str | None = None
        self._family = socket.AF_UNSPEC

    async def open(self, http_version: HttpVersion) -> Connection:
        self.ledger.connecting += 1
        try:
            return await self._open(http_version)
        finally:
            self.ledger.connecting -= 1

    async def _open(self, http_version: HttpVersion) -> Connection:
        loop = asyncio.get_running_loop()
        address = self._address or await self._resolve(loop)
        started = time.perf_counter()
        try:
            transport, handshake = await asyncio.wait_for(
                loop.create_connection(_Handshake, address, self.origin.port),
                self._connect_timeout,
            )
        except TimeoutError:
            raise ConnectTimeout(f"connect to {self.origin} timed out") from None
        except OSError as exc:
            kind, message = classify_os_error(exc)
            raise ConnectError(f"connect to {self.origin}: {message}", kind) from exc
        connected = time.perf_counter()
        alpn = None
        if self.origin.is_tls:
            transport, alpn = await self._start_tls(loop, transport, handshake, http_version)
        tls_done = time.perf_counter()
        conn = self._protocol_for(http_version, alpn)
        conn.connect_us = int((connected - started) * 1e6)
        conn.tls_us = int((tls_done - connected) * 1e6) if self.origin.is_tls else 0
        self._hand_over(transport, handshake, conn)
        return conn

    async def _resolve(self, loop: asyncio.AbstractEventLoop) -> str:
        host = self.origin.host
        try:
            ipaddress.ip_address(host)
            self._address = host
            return host
        except ValueError:
            pass
        try:
            infos = await loop.getaddrinfo(host, self.origin.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ConnectError(f"cannot resolve {host}: {exc}", "dns_error") from exc
        self._family, _, _, _, sockaddr = infos[0]
        self._address = str(sockaddr[0])
        return self._address

    async def _start_tls(
        self,
        loop: asyncio.AbstractEventLoop,
        transport: asyncio.BaseTransport,
        handshake: _Handshake,
        http_version: HttpVersion,
    ) -> tuple[asyncio.Transport, str | None]:
        try:
            tls_transport = await asyncio.wait_for(
                loop.start_tls(
                    transport,  # type: ignore[arg-type]
                    handshake,
                    self._ssl_context(http_version),
                    server_hostname=self.origin.host,
                ),
                self._connect_timeout,
            )
        except TimeoutError:
            transport.close()
            raise ConnectTimeout(f"TLS handshake with {self.origin} timed out") from None
        except (ssl.SSLError, OSError) as exc:
            transport.close()
            kind, message = classify_os_error(exc)
            if kind.startswith("tls"):
                raise TLSError(f"TLS with {self.origin}: {message}", kind) from exc
            raise ConnectError(f"TLS with {self.origin}: {message}", kind) from exc
        if tls_transport is None:
            raise TLSError(f"TLS with {self.origin}: connection closed during handshake")
        ssl_object = tls_transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        return tls_transport, alpn

    def _protocol_for(self, http_version: HttpVersion, alpn: str | None) -> Connection:
        origin = str(self.origin)
        if self.origin.is_tls:
            use_h2 = alpn == "h2"
        else:
            use_h2 = http_version is HttpVersion.HTTP2
        if use_h2:
            return AsyncHTTP2Connection(self.ledger, self.runner, origin)
        return AsyncHTTP11Connection(self.ledger, self.runner, origin)

    def _hand_over(
        self, transport: asyncio.BaseTransport, handshake: _Handshake, conn: Connection
    ) -> None:
        sockname = transport.get_extra_info("sockname")
        if sockname:
            conn.local_port = int(sockname[1])
        conn.connection_made(transport)
        transport.set_protocol(conn)
        self.ledger.on_open(conn)
        if isinstance(conn, AsyncHTTP2Connection):
            conn.start()
        for data in handshake.buffered:
            conn.data_received(data)
        if handshake.is_lost:
            conn.connection_lost(handshake.lost)
