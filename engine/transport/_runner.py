"""A runner: everything needed to talk to one target, built once per session.

It owns the TLS contexts (one per protocol choice, built on first use, never mutated), one
connector per origin (DNS resolved once), the shared pools, and an `httpx.AsyncClient` over the
engine's transport for callers that want httpx's client features.
"""

from __future__ import annotations

import asyncio
import ssl
import time

import httpx

from .._config import CloseReason, HttpVersion, RunnerConfig, SessionConfig
from ._connect import AsyncConnector, Origin
from ._pool import AsyncOriginPool
from ._tls import QuicSettings, build_ssl_context
from ._transport import PoolScope, to_response
from .interfaces import ConnectionObserver

SCOPE_EXTENSION = "loadscope.scope"

USER_AGENT = "loadscope/0.1"


class Runner:
    def __init__(
        self, config: RunnerConfig, session: SessionConfig, observer: ConnectionObserver
    ) -> None:
        self.name = config.name
        self.config = config
        self.base_url = httpx.URL(config.base_url)
        self.observer = observer
        self.timeout = config.timeout if config.timeout is not None else session.timeout
        self.http_version = session.http_version
        self.h2_connections = session.h2_connections
        self.idle_timeout = session.idle_timeout
        self._connect_timeout = min(session.connect_timeout, self.timeout)
        self._max_body = session.max_body
        self._skip_verify = config.skip_verify or session.insecure
        self._contexts: dict[HttpVersion, ssl.SSLContext] = {}
        self._quic: QuicSettings | None = None
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
            )
        return connector

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

    def build_request(self, method: str, url: str | httpx.URL, **kwargs: object) -> httpx.Request:
        request = self.client.build_request(method, url, **kwargs)  # type: ignore[arg-type]
        request.read()
        return request

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
        self.shared.retire(CloseReason.SESSION_END)
        conns = [c for c in self.observer.live_connections() if c.runner == self.name]
        for conn in conns:
            conn.close(CloseReason.SESSION_END)
        await asyncio.gather(*(c.wait_closed() for c in conns))


class AsyncEngineTransport(httpx.AsyncBaseTransport):
    """An httpx transport over the engine's own pools.

    A request may name its scope (a virtual user's pools) in `extensions["loadscope.scope"]`;
    otherwise the runner's shared pools serve it.
    """

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scope = request.extensions.get(SCOPE_EXTENSION) or self._runner.shared
        timeout = _read_timeout(request) or self._runner.timeout
        started = time.perf_counter()
        raw = await scope.exchange(request, timeout)
        response = to_response(raw, request)
        response.extensions["loadscope.elapsed_us"] = int((time.perf_counter() - started) * 1e6)
        return response

    async def aclose(self) -> None:
        await self._runner.aclose()


def _read_timeout(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        return timeouts.get("read")
    return None
