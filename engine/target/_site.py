"""One worker's shared state (`Site`), and what codecs and the site need of a connection.

The connection, its codecs and the site refer to each other; these protocols let each module
name the others' shape without importing them, so no module imports in a cycle.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Protocol

from ._app import App
from ._counters import SharedCounters
from ._options import Listener, TargetOptions

DRAIN_TIMEOUT = 1.0  # on shutdown, how long closing connections may take to flush


class SiteConnection(Protocol):
    """What the site does to every connection when the worker stops."""

    def shutdown(self) -> None: ...
    def abort(self) -> None: ...


class CodecHost(Protocol):
    """What an HTTP/1.1 or HTTP/2 codec uses of the connection it parses for."""

    site: Site
    transport: asyncio.Transport

    def close(self) -> None: ...
    def reset(self) -> None: ...
    def mark_busy(self) -> None: ...
    def mark_idle(self) -> None: ...
    def count_request(self) -> None: ...


class Codec(Protocol):
    def start(self) -> None: ...
    def feed(self, data: bytes) -> None: ...
    def lost(self) -> None: ...
    def shutdown(self) -> None: ...


class Site:
    """One worker's state that its connections share."""

    def __init__(
        self,
        options: TargetOptions,
        app: App,
        counters: SharedCounters,
        worker: int,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.options = options
        self.app = app
        self.counts = counters.array
        self.slots = {listener: counters.slot(worker, listener) for listener in Listener}
        self.ssl_context = ssl_context
        self.loop = asyncio.get_running_loop()
        self.connections: set[SiteConnection] = set()
        self.stopping = False
        timeout = options.keepalive_timeout
        self.keep_alive_value = None if timeout is None else b"timeout=%s" % _seconds(timeout)

    async def close_all(self) -> None:
        self.stopping = True
        for connection in list(self.connections):
            connection.shutdown()
        deadline = self.loop.time() + DRAIN_TIMEOUT
        while self.connections and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self.connections):
            connection.abort()


def _seconds(value: float) -> bytes:
    return b"%d" % value if value == int(value) else b"%g" % value
