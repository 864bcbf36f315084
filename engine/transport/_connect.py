"""Opening connections to one origin: resolve once, TCP connect, optional TLS, then hand over
to an HTTP/1.1 or HTTP/2 protocol object chosen by ALPN (or by configuration on plain TCP)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

from .._config import CloseReason, HttpVersion
from ._errors import (
    ConnectError,
    ConnectTimeout,
    TLSError,
    classify_os_error,
    is_reset,
    without_frames,
)
from ._h1 import AsyncHTTP11Connection
from ._proxy import open_tunnel
from ._route import DIRECT, Route
from ._tls import QuicSettings
from ._wire import Origin
from .interfaces import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_HEADER_SIZE,
    AsyncioNetwork,
    Connection,
    ConnectionObserver,
    Network,
)


class _Handshake(asyncio.Protocol):
    """Holds a fresh transport until we know which HTTP protocol will speak on it."""

    def __init__(self) -> None:
        self.buffered: list[bytes] = []
        self.lost: Exception | None = None
        self.is_lost = False
        self.arrived: asyncio.Event | None = None  # set while a proxy's CONNECT reply is awaited

    def data_received(self, data: bytes) -> None:
        self.buffered.append(data)
        if self.arrived is not None:
            self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_lost = True
        self.lost = exc
        if self.arrived is not None:
            self.arrived.set()


if TYPE_CHECKING:
    from ._h2 import AsyncHTTP2Connection

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
        route: Route = DIRECT,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        network: Network | None = None,
        quic_settings: Callable[[], QuicSettings] | None = None,
    ) -> None:
        self.runner = runner
        self.origin = origin
        self.route = route
        self.server_name = server_name or origin.host
        self.observer = observer
        self.connect_timeout = connect_timeout
        self._ssl_context = ssl_context
        self._quic_settings = quic_settings or QuicSettings
        self._max_body = max_body
        self._max_header_size = max_header_size
        self._network = network or AsyncioNetwork()
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
        if http_version is HttpVersion.HTTP3:
            return await self._open_quic(loop)
        deadline = loop.time() + self.connect_timeout
        started = time.perf_counter()
        transport, handshake = await self._dial(loop)
        try:
            if self._tunnels(http_version):
                await self._tunnel(transport, handshake, deadline - loop.time())
            connected = time.perf_counter()
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
        if isinstance(conn, AsyncHTTP11Connection) and self.route.proxy and not self.origin.is_tls:
            conn.proxy_form = self.route.proxy.request_headers()  # absolute-form, forwarded
        conn.connect_us = int((connected - started) * 1e6)
        conn.tls_us = int((tls_done - connected) * 1e6) if self.origin.is_tls else 0
        self._hand_over(transport, handshake, conn)
        return conn

    async def _open_quic(self, loop: asyncio.AbstractEventLoop) -> Connection:
        """HTTP/3: one QUIC handshake on a UDP socket, in place of TCP connect and TLS."""
        if not self.origin.is_tls:
            raise ConnectError(
                f"HTTP/3 needs an https:// URL, not {self.origin}", "http3_needs_tls"
            )
        if not self.route.direct:
            raise ConnectError("HTTP/3 goes direct: not through a proxy or a unix socket")
        address = self._address or await self._resolve(loop, self.origin.host, self.origin.port)
        from ._h3 import AsyncHTTP3Connection  # aioquic only when HTTP/3 is asked for

        conn = AsyncHTTP3Connection(self.observer, self.runner, str(self.origin), self._max_body)
        conn.max_header_size = self._max_header_size
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

    def _tunnels(self, http_version: HttpVersion) -> bool:
        """Through a proxy, https and h2c need a CONNECT tunnel; HTTP/1.1 is forwarded."""
        if self.route.proxy is None:
            return False
        return self.origin.is_tls or http_version is HttpVersion.HTTP2

    async def _tunnel(
        self, transport: asyncio.Transport, handshake: _Handshake, timeout: float
    ) -> None:
        assert self.route.proxy is not None
        host = f"[{self.origin.host}]" if ":" in self.origin.host else self.origin.host
        await open_tunnel(
            transport, handshake, f"{host}:{self.origin.port}", self.route.proxy, timeout
        )

    async def _dial(self, loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Transport, _Handshake]:
        """A stream to the origin, its proxy, or the unix socket standing in for it."""
        route = self.route
        if route.unix_socket is not None:
            where = f"unix socket {route.unix_socket}"
            return await self._connect(
                where, loop.create_unix_connection(_Handshake, route.unix_socket)
            )
        host, port = (
            (route.proxy.host, route.proxy.port)
            if route.proxy
            else (self.origin.host, self.origin.port)
        )
        where = f"proxy {route.proxy.display}" if route.proxy else str(self.origin)
        address = self._address or await self._resolve(loop, host, port)
        return await self._connect(where, self._network.connect_tcp(address, port, _Handshake))

    async def _connect(
        self,
        where: str,
        connecting: Awaitable[tuple[asyncio.BaseTransport, asyncio.Protocol]],
    ) -> tuple[asyncio.Transport, _Handshake]:
        try:
            transport, handshake = await asyncio.wait_for(connecting, self.connect_timeout)
        except TimeoutError:
            raise ConnectTimeout(f"connect to {where} timed out") from None
        except OSError as exc:
            if is_reset(exc):
                # The handshake completed (a refusal is ECONNREFUSED) and the server reset the
                # connection before the loop saw it: the server accepted it, so count it.
                self.observer.on_lost_before_open(CloseReason.CONNECTION_RESET)
            kind, message = classify_os_error(exc)
            raise ConnectError(f"connect to {where}: {message}", kind) from without_frames(exc)
        assert isinstance(handshake, _Handshake)
        return cast(asyncio.Transport, transport), handshake  # uvloop's are not subclasses

    async def _resolve(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> str:
        try:
            ipaddress.ip_address(host)
            self._address = host
            return host
        except ValueError:
            pass
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            message = f"cannot resolve {host}: {exc}"
            raise ConnectError(message, "dns_error") from without_frames(exc)
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
                raise TLSError(f"TLS with {self.origin}: {message}", kind) from without_frames(exc)
            raise ConnectError(f"TLS with {self.origin}: {message}", kind) from without_frames(exc)
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
        protocol: type[_Wire] = AsyncHTTP11Connection
        if use_h2:
            from ._h2 import AsyncHTTP2Connection  # h2 only once HTTP/2 is spoken

            protocol = AsyncHTTP2Connection
        conn = protocol(self.observer, self.runner, origin, self._max_body)
        conn.max_header_size = self._max_header_size
        return conn

    def _hand_over(
        self, transport: asyncio.BaseTransport, handshake: _Handshake, conn: _Wire
    ) -> None:
        sockname = transport.get_extra_info("sockname")
        if isinstance(sockname, tuple):  # a unix socket's is a path
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
