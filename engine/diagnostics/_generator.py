"""How loaded the generator itself is: its CPU share and how late its event loop runs timers.

A load generator that is out of CPU, or whose loop is blocked, measures its own queueing as the
server's latency; these two numbers say when not to trust the others.
"""

from __future__ import annotations

import asyncio
import time

from ..metrics import GeneratorLoad

PROBE_INTERVAL = 0.1  # seconds between loop-lag probes


def cpu_seconds() -> float:
    """User + system CPU time of this process, every thread (getrusage's sum, finer grained)."""
    return time.process_time()


class LoopLagProbe:
    """A timer that re-arms itself and records how late each firing was."""

    def __init__(self, interval: float = PROBE_INTERVAL) -> None:
        self.interval = interval
        self.worst = 0.0  # seconds, since the last `take()`
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._arm()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def take(self) -> float:
        """The worst lateness since the previous call, in seconds."""
        worst, self.worst = self.worst, 0.0
        if self._loop is not None and self._handle is not None:
            worst = max(worst, self._loop.time() - self._due)  # still waiting: late so far
        return max(worst, 0.0)

    def _arm(self) -> None:
        assert self._loop is not None
        self._due = self._loop.time() + self.interval
        self._handle = self._loop.call_at(self._due, self._fired)

    def _fired(self) -> None:
        assert self._loop is not None
        self.worst = max(self.worst, self._loop.time() - self._due)
        self._arm()


class GeneratorMonitor:
    """CPU% over wall time between samples (100 = one core busy), and the worst loop lag."""

    def __init__(self, probe_interval: float = PROBE_INTERVAL) -> None:
        self.probe = LoopLagProbe(probe_interval)
        self.latest = GeneratorLoad()
        self.peak_cpu_percent = 0.0
        self.peak_loop_lag_ms = 0.0
        self._cpu_at = cpu_seconds()
        self._wall_at = time.perf_counter()
        self._cpu_since = self._cpu_at

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.probe.start(loop or asyncio.get_running_loop())
        self.reset()

    def stop(self) -> None:
        self.probe.stop()

    def reset(self) -> None:
        self._cpu_at = self._cpu_since = cpu_seconds()
        self._wall_at = time.perf_counter()
        self.latest = GeneratorLoad()
        self.peak_cpu_percent = self.peak_loop_lag_ms = 0.0

    def sample(self) -> GeneratorLoad:
        cpu, wall = cpu_seconds(), time.perf_counter()
        span = max(wall - self._wall_at, 1e-3)
        percent = round(100 * (cpu - self._cpu_at) / span, 1)
        lag_ms = round(self.probe.take() * 1000, 1)
        self._cpu_at, self._wall_at = cpu, wall
        self.peak_cpu_percent = max(self.peak_cpu_percent, percent)
        self.peak_loop_lag_ms = max(self.peak_loop_lag_ms, lag_ms)
        self.latest = GeneratorLoad(
            cpu_percent=percent,
            loop_lag_ms=lag_ms,
            cpu_seconds=round(cpu - self._cpu_since, 3),
        )
        return self.latest
