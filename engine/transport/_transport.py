"""The engine's httpx transport, and the scopes that decide which pool a request uses."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx

from loadscope.engine._config import CloseReason
from loadscope.engine.transport._connect import Origin
from loadscope.engine.transport._pool import AsyncOriginPool
from loadscope.engine.transport._wire import RawResponse

if TYPE_CHECKING:
    from loadscope.engine.transport._runner import Runner

SCOPE_EXTENSION = "loadscope.scope"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL) -> Origin:
    scheme = url.scheme
    return Origin(scheme, url.host, url.port or _DEFAULT_PORTS.get(scheme, 80))


class PoolScope:
    """The pools one owner uses: the runner's shared pools, or one virtual user's own."""

    def __init__(self, runner: Runner, *, keep: int, reuse: bool = True) -> None:
        self._runner = runner
        self._pools: dict[tuple[str, str, int | None], AsyncOriginPool] = {}
        self.keep = keep
        self.reuse = reuse

    def pool_for(self, url: httpx.URL) -> AsyncOriginPool:
        key = (url.scheme, url.host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = self._runner.new_pool(origin_of(url), self.keep, self.reuse)
        return pool

    async def exchange(self, request: httpx.Request, timeout: float | None) -> RawResponse:
        return await self.pool_for(request.url).exchange(request, timeout)

    def pools(self) -> list[AsyncOriginPool]:
        return list(self._pools.values())

    def resize(self, keep: int) -> None:
        self.keep = keep
        for pool in self._pools.values():
            pool.resize(keep)

    def sweep(self, now: float) -> None:
        for pool in self._pools.values():
            pool.sweep(now)

    def close_idle(self, reason: CloseReason) -> None:
        for pool in self._pools.values():
            pool.close_idle(reason)

    def retire(self, reason: CloseReason) -> None:
        for pool in self._pools.values():
            pool.retire(reason)


def to_response(raw: RawResponse, request: httpx.Request) -> httpx.Response:
    response = httpx.Response(
        raw.status,
        headers=raw.headers,
        stream=httpx.ByteStream(raw.body),
        request=request,
        extensions={"http_version": raw.http_version, "loadscope.timing": raw},
    )
    if b"content-encoding" in (name.lower() for name, _ in raw.headers):
        response.read()  # let httpx decode gzip/deflate/br
    else:
        response._content = raw.body  # already whole; skip httpx's decoder pipeline (8 µs)
    return response


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
