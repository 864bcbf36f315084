"""One way to run a coroutine to completion: on uvloop where it is installed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

HEAP_CHECK_INTERVAL = 1.0  # seconds between looks at the heap's size during a run
# A collection runs once the heap has doubled since the last one, and grown by at least this
# many allocated blocks (~64-100 MB): 10,000 virtual users hold about a million.
MIN_HEAP_GROWTH = 1_000_000


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """uvloop when available, else asyncio's default loop. LOADSCOPE_LOOP=asyncio picks the
    standard loop on purpose, for comparisons."""
    with _load_friendly_gc():
        if os.environ.get("LOADSCOPE_LOOP") != "asyncio":
            try:
                import uvloop
            except ImportError:  # pragma: no cover - platforms without uvloop
                pass
            else:
                result: T = uvloop.run(_watching_heap(main))
                return result
        return asyncio.run(_watching_heap(main))


@contextlib.contextmanager
def _load_friendly_gc() -> Iterator[None]:
    """No automatic cyclic collections during a run; `HeapWatch` collects when the heap grows.

    Nearly all of a load run's garbage is freed by reference counting, but its live requests are
    young objects that last a round trip: every automatic pass walked all of them (~0.1 s at
    10,000 virtual users, found nothing) and stalled the loop that long. What lives for the run
    (modules, compiled runbooks) is also kept off the collector (`gc.freeze`). Undone after."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


async def _watching_heap(main: Coroutine[Any, Any, T]) -> T:
    watch = HeapWatch()
    watch.start(asyncio.get_running_loop())
    try:
        return await main
    finally:
        watch.stop()


class HeapWatch:
    """Runs the cyclic collector when the heap has grown enough to hold garbage worth it:
    reference cycles (an exception and its traceback, a retired virtual user) are still
    reclaimed, but a steady run pays for no pass at all."""

    def __init__(
        self,
        interval: float = HEAP_CHECK_INTERVAL,
        min_growth: int = MIN_HEAP_GROWTH,
    ) -> None:
        self.interval = interval
        self.min_growth = min_growth
        self.collections = 0
        self.limit = self._limit_after(sys.getallocatedblocks())
        self._handle: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._handle = loop.call_later(self.interval, self._check, loop)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def check(self, blocks: int) -> bool:
        """Collect if `blocks` is past the limit; True when it did."""
        if blocks <= self.limit:
            return False
        gc.collect()
        self.collections += 1
        self.limit = self._limit_after(sys.getallocatedblocks())
        return True

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        self.check(sys.getallocatedblocks())
        self._handle = loop.call_later(self.interval, self._check, loop)

    def _limit_after(self, blocks: int) -> int:
        return max(2 * blocks, blocks + self.min_growth)
