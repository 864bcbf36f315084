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

from .._config import CloseReason, HttpVersion
from ._errors import (
    ConnectError,
    ConnectTimeout,
    TLSError,
    classify_os_error,
    is_reset,
)
from ._h1 import AsyncHTTP11Connection
from ._h2 import AsyncHTTP2Connection
from ._tls import QuicSettings
from .interfaces import (
    DEFAULT_MAX_BODY,
    Connection,
    ConnectionObserver,
)


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


# The protocol objects a connector builds; callers see them only as `Connection`.
_Wire = AsyncHTTP11Connection | AsyncHTTP2Connection


class AsyncConnector:
    """Opens connections to one origin for one runner. DNS is resolved once per session.

    `connect_timeout` bounds TCP connect and the TLS handshake together. Every TCP handshake that
    completes is reported to the observer, even when the connection dies before it is usable, so
    `connections_opened` matches the server's accept count.
    """

    def __init__(
        self,
        runner: str,
        origin: Origin,
        observer: ConnectionObserver,
        ssl_context: Callable[[HttpVersion], ssl.SSLContext],
        connect_timeout: float,
        max_body: int = DEFAULT_MAX_BODY,
        *,
        server_name: str | None = None,
        quic_settings: Callable[[], QuicSettings] | None = None,
    ) -> None:
        self.runner = runner
        self.origin = origin
        self.server_name = server_name or origin.host
        self.observer = observer
        self.connect_timeout = connect_timeout
        self._ssl_context = ssl_context
        self._quic_settings = quic_settings or QuicSettings
        self._max_body = max_body
        self._address: str | None = None
        self._family = socket.AF_UNSPEC

    async def open(self, http_version: HttpVersion) -> Connection:
        self.observer.connecting += 1
        try:
            return await self._open(http_version)
        finally:
            self.observer.connecting -= 1

    async def _open(self, http_version: HttpVersion) -> Connection:
        loop = asyncio.get_running_loop()
        address = self._address or await self._resolve(loop)
        if http_version is HttpVersion.HTTP3:
            return await self._open_quic(address)
        deadline = loop.time() + self.connect_timeout
        started = time.perf_counter()
        transport, handshake = await self._tcp_connect(loop, address)
        connected = time.perf_counter()
        try:
            alpn = None
            if self.origin.is_tls:
                remaining = deadline - loop.time()
                transport, alpn = await self._start_tls(
                    loop, transport, handshake, http_version, remaining
                )
        except BaseException as exc:
            transport.abort()
            self.observer.on_lost_before_open(_lost_reason(exc))
            raise
        tls_done = time.perf_counter()
        conn = self._protocol_for(http_version, alpn)
        conn.connect_us = int((connected - started) * 1e6)
        conn.tls_us = int((tls_done - connected) * 1e6) if self.origin.is_tls else 0
        self._hand_over(transport, handshake, conn)
        return conn

    async def _open_quic(self, address: str) -> Connection:
        """HTTP/3: one QUIC handshake on a UDP socket, in place of TCP connect and TLS."""
        if not self.origin.is_tls:
            raise ConnectError(
                f"HTTP/3 needs an https:// URL, not {self.origin}", "http3_needs_tls"
            )
        from ._h3 import AsyncHTTP3Connection  # aioquic only when HTTP/3 is asked for

        conn = AsyncHTTP3Connection(self.observer, self.runner, str(self.origin), self._max_body)
        try:
            await conn.open(
                address,
                self.origin.port,
                self._quic_settings(),
                self.server_name,
                self.connect_timeout,
            )
        except ConnectTimeout:
            raise  # nobody answered: nothing was accepted
        except (TLSError, ConnectError):
            self.observer.on_lost_before_open(CloseReason.ERROR)  # the server kept state for it
            raise
        self.observer.on_open(conn)
        return conn

    async def _tcp_connect(
        self, loop: asyncio.AbstractEventLoop, address: str
    ) -> tuple[asyncio.Transport, _Handshake]:
        try:
            return await asyncio.wait_for(
                loop.create_connection(_Handshake, address, self.origin.port),
                self.connect_timeout,
            )
        except TimeoutError:
            raise ConnectTimeout(f"connect to {self.origin} timed out") from None
        except OSError as exc:
            if is_reset(exc):
                # The handshake completed (a refusal is ECONNREFUSED) and the server reset the
                # connection before the loop saw it: the server accepted it, so count it.
                self.observer.on_lost_before_open(CloseReason.CONNECTION_RESET)
            kind, message = classify_os_error(exc)
            raise ConnectError(f"connect to {self.origin}: {message}", kind) from exc

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
        transport: asyncio.Transport,
        handshake: _Handshake,
        http_version: HttpVersion,
        timeout: float,
    ) -> tuple[asyncio.Transport, str | None]:
        try:
            tls_transport = await asyncio.wait_for(
                loop.start_tls(
                    transport,
                    handshake,
                    self._ssl_context(http_version),
                    server_hostname=self.server_name,
                ),
                max(timeout, 0.0),
            )
        except TimeoutError:
            raise ConnectTimeout(f"TLS handshake with {self.origin} timed out") from None
        except (ssl.SSLError, OSError) as exc:
            kind, message = classify_os_error(exc)
            if kind.startswith("tls"):
                raise TLSError(f"TLS with {self.origin}: {message}", kind) from exc
            raise ConnectError(f"TLS with {self.origin}: {message}", kind) from exc
        if tls_transport is None:
            raise TLSError(f"TLS with {self.origin}: connection closed during handshake")
        ssl_object = tls_transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        return tls_transport, alpn

    def _protocol_for(self, http_version: HttpVersion, alpn: str | None) -> _Wire:
        origin = str(self.origin)
        if self.origin.is_tls:
            use_h2 = alpn == "h2"
        else:
            use_h2 = http_version is HttpVersion.HTTP2
        protocol = AsyncHTTP2Connection if use_h2 else AsyncHTTP11Connection
        return protocol(self.observer, self.runner, origin, self._max_body)

    def _hand_over(
        self, transport: asyncio.BaseTransport, handshake: _Handshake, conn: _Wire
    ) -> None:
        sockname = transport.get_extra_info("sockname")
        if sockname:
            conn.local_port = int(sockname[1])
        self.observer.on_open(conn)
        conn.connection_made(transport)
        transport.set_protocol(conn)
        for data in handshake.buffered:
            conn.data_received(data)
        if handshake.is_lost:
            conn.connection_lost(handshake.lost)


def _lost_reason(exc: BaseException) -> CloseReason:
    if is_reset(exc) or is_reset(exc.__cause__):
        return CloseReason.CONNECTION_RESET
    return CloseReason.ERROR
