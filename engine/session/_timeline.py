"""The session's 1 Hz tick: one `TimelinePoint` a second, and the extensions' hooks around it."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from .._config import SessionConfig
from ..diagnostics import (
    ConnectionLedger,
    DiagnosticsExtension,
    PointFields,
    SessionPort,
    SessionView,
    overlay,
)
from ..metrics import Metrics, TimelinePoint

TICK_SLACK = 0.1  # a tick this close to the end of the run is left to the final tick
BEFORE_TICK = 0.25  # seconds before a tick that extensions start their readings


class TickSource(SessionView, SessionPort, Protocol):
    """What a tick reads of the session (`Session` is one)."""

    @property
    def config(self) -> SessionConfig: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def ledger(self) -> ConnectionLedger: ...

    @property
    def extensions(self) -> Sequence[DiagnosticsExtension]: ...

    @property
    def measure_until(self) -> float:
        """perf_counter time the measured run ends; 0: it runs until stopped."""
        ...

    def sweep(self) -> None:
        """Once a second, after the tick: housekeeping of the connections."""


class Timeline:
    """The points of the seconds measured so far (the newest `limit`), and who hears of each."""

    def __init__(self, source: TickSource, limit: int) -> None:
        self._source = source
        self.points: deque[TimelinePoint] = deque(maxlen=limit)
        self.listeners: list[Callable[[TimelinePoint], None]] = []
        self.stats_started_at = 0.0  # perf_counter time the statistics (and seconds) start
        self._last_tick_at = 0.0

    def restart(self, now: float) -> None:
        """The statistics start again at `now`: the seconds count from here."""
        self.points.clear()
        self.stats_started_at = self._last_tick_at = now

    async def run(self) -> None:
        """Tick once a second until cancelled, or until the measured run ends."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + 1.0
        while True:
            await asyncio.sleep(max(0.0, next_tick - BEFORE_TICK - loop.time()))
            for extension in self._source.extensions:
                extension.before_tick(self._source, self._source)
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            next_tick += 1.0
            until = self._source.measure_until
            if until and time.perf_counter() > until - TICK_SLACK:
                return  # the run ends now: the final tick covers this last second
            self.tick()

    def tick(self, final: bool = False, now: float | None = None) -> TimelinePoint | None:
        """Close the second ending `now` (default: now); the final one is left out when nothing
        happened in it."""
        source = self._source
        now = time.perf_counter() if now is None else now
        sample = source.metrics.take_second()
        opened, closed = source.ledger.take_tick()
        span = max(now - (self._last_tick_at or self.stats_started_at), 1e-3)
        self._last_tick_at = now
        if final and sample.requests == 0 and sample.iterations == 0:
            return None
        extra = PointFields()
        for extension in source.extensions:
            extra = overlay(extra, extension.tick(source, source))
        p50, p90, p99 = sample.histogram.percentiles((50, 90, 99))
        ledger = source.ledger
        point = TimelinePoint(
            t=self._second(now - self.stats_started_at, final),
            rps=round(sample.histogram.n / max(span, 0.05), 1),  # responses, whatever their status
            errors=sample.errors,
            concurrency=source.busy if source.config.open_model else source.concurrency,
            p50_ms=p50 / 1000,
            p90_ms=p90 / 1000,
            p99_ms=p99 / 1000,
            open=ledger.open,
            active=ledger.active,
            idle=ledger.idle,
            opened=opened,
            closed=closed,
            iterations=sample.iterations,
            dropped=sample.dropped,
            rate=source.rate,
            time_wait=extra.time_wait,
            established=extra.established,
            cpu_percent=extra.cpu_percent,
        )
        self.points.append(point)
        for listener in self.listeners:
            listener(point)
        if not final:
            source.sweep()
        return point

    def _second(self, elapsed: float, final: bool) -> int:
        """The second a point closes. The final one comes right after the rest, with no gap,
        even when running iterations took the drain past more second boundaries (its rate is
        over the time it covers)."""
        if not final:
            return max(1, round(elapsed))
        return self.points[-1].t + 1 if self.points else max(1, math.ceil(elapsed - TICK_SLACK))
