"""Pacing: a cap on iteration starts per second (closed model), and the arrival schedule
(open model) that starts iterations at intended times regardless of response times."""

from __future__ import annotations

import asyncio
import time


class AsyncPacer:
    """Spaces iteration starts at most `rate` per second across all VUs (runn's --max-rps)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0

    def reserve(self) -> float:
        """Take the next free start slot: a `time.perf_counter()` time, now or later."""
        slot = max(time.perf_counter(), self._next)
        self._next = slot + 1.0 / self.rate
        return slot

    async def wait(self) -> None:
        delay = self.reserve() - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


def due_arrivals(next_at: float, now: float, interval: float, limit: int) -> tuple[int, float]:
    """How many arrivals are due by `now` starting at `next_at`, and the next arrival after them."""
    if next_at > now:
        return 0, next_at
    count = min(int((now - next_at) / interval) + 1, limit)
    return count, next_at + count * interval
