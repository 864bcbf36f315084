"""A/B phases in one session: switch the reuse mode at each boundary, measure each phase.

The load level stays as it is (concurrency or rate); only the reuse mode changes. Boundaries
fall on the session's 1 Hz tick, so every second of traffic belongs to exactly one phase. The
last phase runs until the session stops: give the session a duration of the phases' sum (plus
warm-up, which runs in the first phase's mode and is not measured).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .._config import ReuseMode
from ..metrics import EventKind, PhaseResult
from ._generator import cpu_seconds
from ._view import DiagnosticsExtension, PointFields, SessionPort, SessionView, SnapshotFields

BOUNDARY_SLACK = 0.5  # seconds: the tick nearest a boundary ends the phase


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """One phase of an A/B run: a reuse mode held for a duration."""

    reuse_mode: ReuseMode
    duration: float  # seconds

    def __post_init__(self) -> None:
        object.__setattr__(self, "reuse_mode", ReuseMode(self.reuse_mode))
        if not self.duration > 0:
            raise ValueError(f"a phase lasts more than 0 s, not {self.duration}")


class TimeWaitSource(Protocol):
    """The session's sockets in TIME_WAIT now (None: not known)."""

    @property
    def time_wait(self) -> int | None: ...


class _PhaseLike(Protocol):
    reuse_mode: ReuseMode | str
    duration: float


def phase_specs(
    phases: Iterable[PhaseSpec | _PhaseLike | tuple[ReuseMode | str, float]],
) -> tuple[PhaseSpec, ...]:
    """Phases from anywhere: (mode, seconds) pairs, or objects with `reuse_mode` and `duration`
    (the CLI's `--phases`, a runbook's list)."""
    specs = []
    for phase in phases:
        if isinstance(phase, tuple):
            mode, seconds = phase
            specs.append(PhaseSpec(ReuseMode(mode), float(seconds)))
        else:
            specs.append(PhaseSpec(ReuseMode(phase.reuse_mode), float(phase.duration)))
    return tuple(specs)


class _Running:
    """Counters at the start of the phase in progress, and what it has seen since."""

    def __init__(self, session: SessionView, index: int, spec: PhaseSpec, time_wait: int) -> None:
        self.index = index
        self.spec = spec
        self.began = time.perf_counter()
        self.ends = self.began + spec.duration
        # the first phase begins with the statistics (at the start, or as the warm-up ends)
        self.started_s = 0.0 if index == 0 else session.elapsed()
        self.time_wait_start = self.time_wait_peak = time_wait
        self.rebase(session)

    def rebase(self, session: SessionView) -> None:
        """Measure from now on (the start, or a statistics reset that zeroed the counters)."""
        metrics = session.metrics
        self.latency = metrics.latency.copy()
        self.requests = metrics.requests
        self.errors = metrics.errors
        self.opened = session.ledger.opened_total
        self.cpu = cpu_seconds()
        self.measured_from = session.elapsed()  # the statistics' clock, held at the run's end

    def result(self, session: SessionView) -> PhaseResult:
        metrics = session.metrics
        duration = max(session.elapsed() - self.measured_from, 1e-3)
        latency = metrics.latency.copy()
        latency.subtract(self.latency)
        requests = metrics.requests - self.requests
        errors = metrics.errors - self.errors
        opened = session.ledger.opened_total - self.opened
        p50, p99 = latency.percentiles((50, 99)) if latency.n else (0.0, 0.0)
        cpu_ms = (cpu_seconds() - self.cpu) * 1000
        return PhaseResult(
            name=f"{self.index + 1} {self.spec.reuse_mode.value}",
            reuse_mode=self.spec.reuse_mode.value,
            started_s=round(self.started_s, 3),
            duration_s=round(duration, 3),
            requests=requests,
            rps=round((requests - errors) / duration, 1),
            p50_ms=round(p50 / 1000, 3),
            p99_ms=round(p99 / 1000, 3),
            opened=opened,
            opened_per_s=round(opened / duration, 1),
            time_wait_peak=self.time_wait_peak,
            time_wait_rise=self.time_wait_peak - self.time_wait_start,
            cpu_ms_per_request=round(cpu_ms / requests, 4) if requests else 0.0,
            errors=errors,
        )


class PhaseExtension(DiagnosticsExtension):
    """Runs the phases on a session and exposes their results as `Snapshot.phases` (finished
    phases, then the one in progress)."""

    def __init__(
        self,
        phases: Iterable[PhaseSpec | _PhaseLike | tuple[ReuseMode | str, float]],
        time_wait: TimeWaitSource | None = None,
    ) -> None:
        """`time_wait`: read each second (the kernel view's extension) for each phase's
        TIME_WAIT peak."""
        self.phases = phase_specs(phases)
        self.results: list[PhaseResult] = []
        self._time_wait_source = time_wait
        self._running: _Running | None = None
        self._session: SessionView | None = None

    @property
    def total_duration(self) -> float:
        return sum(p.duration for p in self.phases)

    @property
    def current(self) -> PhaseSpec | None:
        return self._running.spec if self._running is not None else None

    def started(self, view: SessionView, port: SessionPort) -> None:
        self._session = view
        if self.phases and not view.warming_up:
            self._begin(view, port, 0)

    def tick(self, view: SessionView, port: SessionPort) -> PointFields:
        running = self._running
        if running is None:
            return PointFields()
        running.time_wait_peak = max(running.time_wait_peak, self._time_wait())
        last = running.index + 1 >= len(self.phases)
        if not last and time.perf_counter() >= running.ends - BOUNDARY_SLACK:
            self.results.append(running.result(view))
            self._begin(view, port, running.index + 1)
        return PointFields()

    def reset(self, view: SessionView, port: SessionPort) -> None:
        if self._running is not None:
            self._running.rebase(view)
        elif self.phases and not self.results:
            self._begin(view, port, 0)  # the warm-up is over

    def stopped(self, view: SessionView, port: SessionPort) -> None:
        if self._running is not None:
            self.results.append(self._running.result(view))
            self._running = None

    def snapshot_fields(self) -> SnapshotFields:
        results = list(self.results)
        if self._running is not None and self._session is not None:
            results.append(self._running.result(self._session))
        return SnapshotFields(phases=tuple(results))

    def _begin(self, view: SessionView, port: SessionPort, index: int) -> None:
        spec = self.phases[index]
        port.set_reuse_mode(spec.reuse_mode)
        port.event(
            EventKind.PHASE,
            f"phase {index + 1}/{len(self.phases)}: {spec.reuse_mode} for {spec.duration:g}s",
            mode=spec.reuse_mode.value,
        )
        self._running = _Running(view, index, spec, self._time_wait())

    def _time_wait(self) -> int:
        source = self._time_wait_source
        return (source.time_wait if source is not None else None) or 0
