"""An httpx transport over the engine's own pools, for callers that want httpx's client."""

from __future__ import annotations

import time
from typing import Protocol

import httpx

from ._httpx_models import from_httpx, to_response
from ._scope import PoolScope

SCOPE_EXTENSION = "loadscope.scope"


class PoolOwner(Protocol):
    """What the transport needs of its runner."""

    shared: PoolScope
    timeout: float

    async def aclose(self) -> None: ...


class AsyncEngineTransport(httpx.AsyncBaseTransport):
    """Sends each `httpx.Request` as the engine's own request.

    A request may name its scope (a virtual user's pools) in `extensions["loadscope.scope"]`;
    otherwise the runner's shared pools serve it.
    """

    def __init__(self, owner: PoolOwner) -> None:
        self._owner = owner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scope = request.extensions.get(SCOPE_EXTENSION) or self._owner.shared
        timeout = _read_timeout(request) or self._owner.timeout
        started = time.perf_counter()
        await request.aread()
        raw = await scope.exchange(from_httpx(request), timeout)
        response = to_response(raw, request)
        response.extensions["loadscope.elapsed_us"] = int((time.perf_counter() - started) * 1e6)
        return response

    async def aclose(self) -> None:
        await self._owner.aclose()


def _read_timeout(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        return timeouts.get("read")
    return None
