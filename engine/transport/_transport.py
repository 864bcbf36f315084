"""Scopes that decide which pool a request uses, and raw responses as `httpx.Response`s."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from .._config import CloseReason
from ._connect import Origin
from ._pool import AsyncOriginPool
from ._wire import RawResponse

# Builds a pool for an origin: (origin, idle connections kept, reuse connections?).
PoolFactory = Callable[[Origin, int, bool], AsyncOriginPool]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL) -> Origin:
    scheme = url.scheme
    return Origin(scheme, url.host, url.port or _DEFAULT_PORTS.get(scheme, 80))


class PoolScope:
    """The pools one owner uses: the runner's shared pools, or one virtual user's own."""

    def __init__(self, new_pool: PoolFactory, *, keep: int, reuse: bool = True) -> None:
        self._new_pool = new_pool
        self._pools: dict[tuple[str, str, int | None], AsyncOriginPool] = {}
        self.keep = keep
        self.reuse = reuse

    def pool_for(self, url: httpx.URL) -> AsyncOriginPool:
        key = (url.scheme, url.host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = self._new_pool(origin_of(url), self.keep, self.reuse)
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
    if raw.body and b"content-encoding" in (name.lower() for name, _ in raw.headers):
        response.read()  # let httpx decode gzip/deflate/br
    else:
        response._content = raw.body  # already whole; skip httpx's decoder pipeline (8 µs)
    return response
