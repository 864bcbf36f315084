"""Pacing: a cap on iteration starts per second (closed model), and the arrival schedule
(open model) that starts iterations at intended times regardless of response times."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from .._config import Stage

STAGE_STEP = 0.1  # seconds between level updates while ramping


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


def level_at(stages: Sequence[Stage], start: float, elapsed: float) -> tuple[int, float]:
    """`elapsed` seconds into `stages`, ramping linearly from `start`: the index of the stage
    in effect (`len(stages)` once they are over) and the level it gives then."""
    level = start
    for index, stage in enumerate(stages):
        if elapsed < stage.duration:
            return index, level + (stage.target - level) * (elapsed / stage.duration)
        elapsed -= stage.duration
        level = stage.target
    return len(stages), level


class StagePlan:
    """Moves a level along `stages` (k6's stages), from where it is when they begin; each
    stage's target is reached exactly at its end."""

    def __init__(
        self,
        stages: Sequence[Stage],
        apply: Callable[[float], None],
        announce: Callable[[int, Stage, float], None],
    ) -> None:
        """`apply(level)` sets the level; `announce(number, stage, level)` says a stage began."""
        self.stages = tuple(stages)
        self._apply = apply
        self._announce = announce
        self._start = 0.0
        self._began = 0.0

    async def run(self, start: float) -> None:
        self._start, self._began = start, time.perf_counter()
        announced = 0
        while True:
            index, level = level_at(self.stages, start, time.perf_counter() - self._began)
            while announced < min(index + 1, len(self.stages)):
                began_at = level_at(self.stages, start, self._stage_start(announced))[1]
                self._announce(announced + 1, self.stages[announced], began_at)
                announced += 1
            self._apply(level)
            if index >= len(self.stages):
                return
            await asyncio.sleep(STAGE_STEP)

    def settle(self, elapsed: float) -> None:
        """The measured run ends `elapsed` seconds after the stages began: set the level the
        plan gives then (a ramp's last step would otherwise fall after the end)."""
        if self._began:
            self._apply(level_at(self.stages, self._start, elapsed)[1])

    def _stage_start(self, index: int) -> float:
        return sum(stage.duration for stage in self.stages[:index])
