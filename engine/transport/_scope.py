"""Scopes that decide which pools a request uses: the runner's shared pools, or one virtual
user's own."""

from __future__ import annotations

from collections.abc import Callable

from .._config import CloseReason
from ._pool import AsyncOriginPool
from ._wire import Origin, RawRequest, RawResponse

# Builds a pool for an origin: (origin, idle connections kept, reuse connections?).
PoolFactory = Callable[[Origin, int, bool], AsyncOriginPool]


class PoolScope:
    """The pools one owner uses, one per origin."""

    def __init__(self, new_pool: PoolFactory, *, keep: int, reuse: bool = True) -> None:
        self._new_pool = new_pool
        self._pools: dict[Origin, AsyncOriginPool] = {}
        self.keep = keep
        self.reuse = reuse

    def pool_for(self, origin: Origin) -> AsyncOriginPool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = self._new_pool(origin, self.keep, self.reuse)
        return pool

    async def exchange(self, request: RawRequest, timeout: float | None) -> RawResponse:
        return await self.pool_for(request.origin).exchange(request, timeout)

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
