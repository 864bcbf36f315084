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

    async def wait(self) -> None:
        now = time.perf_counter()
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.rate
        if slot > now:
            await asyncio.sleep(slot - now)


def due_arrivals(next_at: float, now: float, interval: float, limit: int) -> tuple[int, float]:
    """How many arrivals are due by `now` starting at `next_at`, and the next arrival after them."""
    if next_at > now:
        return 0, next_at
    count = min(int((now - next_at) / interval) + 1, limit)
    return count, next_at + count * interval
