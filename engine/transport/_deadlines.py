"""Request timeouts on a coarse wheel: one loop timer for all of them, not one per request.

A timer per request costs a handle, a copy of the context and two operations on the loop's timer
heap (~2 µs, and objects the collector would walk); nearly every one is cancelled unfired. Here a
request's deadline goes into a bucket of `RESOLUTION` seconds, one set add and discard; a tick
each `RESOLUTION` while any bucket is left expires those that are due. A timeout fires no
earlier than asked and at most `RESOLUTION` (plus the loop's lag) later.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Protocol

RESOLUTION = 0.1  # seconds


class Expiring(Protocol):
    def expire(self) -> None:
        """Its deadline passed before it was disarmed."""


class Deadlines:
    """One per event loop (`deadlines_for`). Deadlines are on the monotonic clock; it keeps no
    reference to its loop once no deadline is armed (the weak map by loop would keep it)."""

    __slots__ = ("__weakref__", "_buckets", "_next_key", "_tick", "resolution")

    def __init__(self, resolution: float = RESOLUTION) -> None:
        self.resolution = resolution
        self._buckets: dict[int, set[Expiring]] = {}
        self._next_key = int(time.monotonic() / resolution)  # the first bucket not yet expired
        self._tick: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        """Armed deadlines."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def arm(self, item: Expiring, timeout: float) -> int:
        """`item.expire()` once `timeout` seconds have passed, unless disarmed with the key
        returned."""
        # The bucket expires at the first tick at or after the deadline.
        key = int((time.monotonic() + timeout) / self.resolution) + 1
        if key < self._next_key:
            key = self._next_key
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = set()
            if self._tick is None:  # nothing armed: the buckets before now are all gone
                self._next_key = max(self._next_key, int(time.monotonic() / self.resolution))
                self._tick = asyncio.get_running_loop().call_later(
                    self.resolution, self._expire_due
                )
        bucket.add(item)
        return key

    def disarm(self, item: Expiring, key: int) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.discard(item)
            if not bucket:
                del self._buckets[key]

    def _expire_due(self) -> None:
        self._tick = None
        now_key = int(time.monotonic() / self.resolution)
        due: list[Expiring] = []
        for key in range(self._next_key, now_key + 1):
            bucket = self._buckets.pop(key, None)
            if bucket:
                due.extend(bucket)
        self._next_key = max(self._next_key, now_key + 1)
        if self._buckets:
            self._tick = asyncio.get_running_loop().call_later(self.resolution, self._expire_due)
        for item in due:
            item.expire()


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Deadlines] = (
    weakref.WeakKeyDictionary()
)


def deadlines_for(loop: asyncio.AbstractEventLoop) -> Deadlines:
    deadlines = _by_loop.get(loop)
    if deadlines is None:
        deadlines = _by_loop[loop] = Deadlines()
    return deadlines
