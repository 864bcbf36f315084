"""A runner: everything needed to talk to one target, built once per session.

It owns the TLS contexts (one per protocol choice, built on first use, never mutated), one
connector per origin (DNS resolved once), the shared pools, and an `httpx.AsyncClient` over the
engine's transport for callers that want httpx's client features. Requests for the engine are
built once through that client's public API (its defaults and header rules) as `RawRequest`s.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx

from .._config import CloseReason, HttpVersion, RunnerConfig, SessionConfig
from ._connect import AsyncConnector
from ._httpx_models import from_httpx, origin_of
from ._httpx_transport import AsyncEngineTransport
from ._pool import AsyncOriginPool
from ._route import Route, choose_route
from ._scope import PoolScope
from ._tls import QuicSettings, build_ssl_context
from ._wire import Origin, RawRequest
from .interfaces import ConnectionObserver, Network

USER_AGENT = "loadscope/0.1"
CLOSES_PER_TURN = 256  # connections closed per loop turn at the end of a session


class Runner:
    def __init__(
        self,
        config: RunnerConfig,
        session: SessionConfig,
        observer: ConnectionObserver,
        *,
        network: Network | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.base_url = httpx.URL(config.base_url)
        self.observer = observer
        self.network = network  # None: TCP through the running loop
        self.timeout = config.timeout if config.timeout is not None else session.timeout
        self.http_version = session.http_version
        self.h2_connections = session.h2_connections
        self.idle_timeout = session.idle_timeout
        self._connect_timeout = min(session.connect_timeout, self.timeout)
        self._max_body = session.max_body
        self._skip_verify = config.skip_verify or session.insecure
        self._contexts: dict[HttpVersion, ssl.SSLContext] = {}
        self._quic: QuicSettings | None = None
        self._proxy = config.proxy or session.proxy
        self._unix_socket = config.unix_socket or session.unix_socket
        self.route = self.route_to(origin_of(self.base_url))  # checks the proxy settings now
        self._connectors: dict[Origin, AsyncConnector] = {}
        self.shared = PoolScope(self.new_pool, keep=session.initial_pool_keep())
        self.transport = AsyncEngineTransport(self)
        self.client = httpx.AsyncClient(
            transport=self.transport,
            base_url=self.base_url,
            follow_redirects=config.follow_redirects,
            timeout=self.timeout,
            # The same bytes on the wire whatever codecs are installed (httpx adds br and zstd
            # when brotli or zstandard happen to be importable).
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )
        self._retired: list[PoolScope] = []

    def ssl_context(self, version: HttpVersion) -> ssl.SSLContext:
        context = self._contexts.get(version)
        if context is None:
            context = self._contexts[version] = build_ssl_context(
                version,
                skip_verify=self._skip_verify,
                cacert=self.config.cacert,
                cert=self.config.cert,
                key=self.config.key,
            )
        return context

    def quic_settings(self) -> QuicSettings:
        if self._quic is None:
            self._quic = QuicSettings(
                skip_verify=self._skip_verify,
                cacert=self.config.cacert,
                cert=self.config.cert,
                key=self.config.key,
                idle_timeout=self.idle_timeout,
            )
        return self._quic

    def prepare_tls(self) -> None:
        """Build the TLS context up front, so the first request pays no certifi load."""
        if self.base_url.scheme == "https":
            self.ssl_context(self.http_version)

    def connector(self, origin: Origin) -> AsyncConnector:
        connector = self._connectors.get(origin)
        if connector is None:
            connector = self._connectors[origin] = AsyncConnector(
                self.name,
                origin,
                self.observer,
                self.ssl_context,
                self._connect_timeout,
                self._max_body,
                server_name=self.config.tls_server_name,
                quic_settings=self.quic_settings,
                route=self.route_to(origin),
                max_header_size=self.config.max_header_size,
                network=self.network,
            )
        return connector

    def route_to(self, origin: Origin) -> Route:
        """Direct, through a proxy, or over the unix socket (see `_route`)."""
        return choose_route(
            origin.scheme,
            origin.host,
            origin.port,
            proxy=self._proxy,
            unix_socket=self._unix_socket,
        )

    def dialled(self) -> tuple[str, int] | None:
        """The TCP (host, port) this runner's base URL connects to: its proxy's or its own;
        None over a unix socket."""
        route = self.route
        if route.unix_socket is not None:
            return None
        if route.proxy is not None:
            return route.proxy.host, route.proxy.port
        origin = origin_of(self.base_url)
        return origin.host, origin.port

    def new_pool(self, origin: Origin, keep: int, reuse: bool) -> AsyncOriginPool:
        return AsyncOriginPool(
            self.connector(origin),
            self.http_version,
            keep=keep,
            h2_connections=self.h2_connections,
            reuse=reuse,
            idle_timeout=self.idle_timeout,
        )

    def new_scope(self, *, keep: int = 1, reuse: bool = True) -> PoolScope:
        return PoolScope(self.new_pool, keep=keep, reuse=reuse)

    def build_request(
        self, method: str, url: str | httpx.URL, *, keep_body: bool = True, **kwargs: object
    ) -> RawRequest:
        """The engine's request, as this runner's httpx client would build it (base URL,
        default headers); `kwargs` are `httpx.AsyncClient.build_request`'s."""
        request = self.client.build_request(method, url, **kwargs)  # type: ignore[arg-type]
        request.read()
        return from_httpx(request, keep_body=keep_body)

    def switch_http_version(self, version: HttpVersion) -> None:
        """New pools speak `version`; the old shared pools drain and close."""
        self.http_version = version
        self.replace_shared(CloseReason.MODE_SWITCH)

    def replace_shared(self, reason: CloseReason) -> None:
        old = self.shared
        self.shared = PoolScope(self.new_pool, keep=old.keep)
        old.retire(reason)

    def sweep(self, now: float) -> None:
        self.shared.sweep(now)

    def resize(self, keep: int) -> None:
        self.shared.resize(keep)

    async def aclose(self) -> None:
        conns = [c for c in self.observer.live_connections() if c.runner == self.name]
        for start in range(0, len(conns), CLOSES_PER_TURN):
            if start:
                await asyncio.sleep(0)  # 10,000 closes in one turn held every timer ~0.1 s
            for conn in conns[start : start + CLOSES_PER_TURN]:
                conn.close(CloseReason.SESSION_END)
        self.shared.retire(CloseReason.SESSION_END)
        await asyncio.gather(*(c.wait_closed() for c in conns))
