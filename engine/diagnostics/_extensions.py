"""Session extensions that tie the kernel view, the generator's load, the detectors and the
phases into a session: per-second timeline fields, snapshot fields and warning events.

    diagnostics = attach_diagnostics(session, phases=[("shared", 30), ("per-iteration", 30)])

The command line and the console's engine process both attach them through this function.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

from .._config import HttpVersion, ReuseMode, State
from ..metrics import EventKind, GeneratorLoad, KernelSnapshot, Warning
from ._detectors import SETTLE_S, Detectors, Observation, RunTotals
from ._generator import GeneratorMonitor
from ._phases import PhaseExtension, PhaseSpec
from ._udp import with_udp_sockets
from ._unix import unix_paths, with_unix_sockets
from ._view import (
    DiagnosticsExtension,
    ExtensionHost,
    PointFields,
    SessionPort,
    SessionView,
    SnapshotFields,
)
from .kernel import (
    Endpoint,
    KernelSample,
    KernelView,
    Source,
    endpoints_for,
    format_address,
)

KERNEL_BUDGET_MS = 15.0  # the kernel view's share of each second, on average
FINAL_READ_TIMEOUT_S = 5.0  # the stop waits this long at most for the last kernel reading
# Events that change the load or the connections on purpose.
CHANGE_EVENTS = frozenset(
    {
        EventKind.CONCURRENCY,
        EventKind.MAX_VUS,
        EventKind.RATE,
        EventKind.REUSE,
        EventKind.HTTP,
        EventKind.STAGE,
        EventKind.PAUSE,
        EventKind.RESUME,
        EventKind.PHASE,
    }
)


def target_addresses(session: SessionView) -> list[tuple[str, int]]:
    """The (host, port) every runner of the session connects to (its proxy's when it uses
    one), in order, once each."""
    addresses: dict[tuple[str, int], None] = {}
    for runner in session.runners.values():
        dialled = runner.dialled()
        if dialled is not None:
            addresses[dialled] = None
    return list(addresses)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class KernelExtension(DiagnosticsExtension):
    """Socket counts of the session's own connections to its targets (both ends: by the local
    ports its connections used, so TIME_WAIT left by earlier runs or other clients is not
    counted) and local limits.

    The read runs in a worker thread, started a moment before each tick (`READ_LEAD`) and
    collected by the tick, so a second's timeline point shows the sockets as that second ends;
    the event loop never waits on the kernel (a read not done by the tick is shown at the next).
    A reading that costs more CPU than the budget spaces out the next ones (every 2 s rather
    than every second) instead of eating the generator's time. The TIME_WAIT peak counts the
    readings begun since the statistics started.
    """

    fresh_read_s = 0.5  # the run's last point: a reading begun longer ago than this is stale

    def __init__(
        self,
        budget_ms: float = KERNEL_BUDGET_MS,
        *,
        source: Source | str = Source.AUTO,
        proc_root: str = "/proc",
    ) -> None:
        self.budget_ms = budget_ms
        self.source = source
        self.proc_root = proc_root
        self.latest: KernelSample | None = None
        self.time_wait_peak = 0
        self.error: str | None = None
        self._addresses: list[tuple[str, int]] = []
        self._unix_paths: list[str] = []
        self._udp_targets: list[tuple[str, int]] = []  # HTTP/3's, while it is the setting
        self._view: KernelView | None = None
        self._pending: asyncio.Future[KernelSample | None] | None = None
        self._pending_era = 0  # the statistics era the pending read began in
        self._pending_began = 0.0  # perf_counter time it began
        self._era = 0  # counts statistics resets
        self._skip = 0

    @property
    def time_wait(self) -> int | None:
        return self.latest.total.time_wait if self.latest is not None else None

    def started(self, view: SessionView, port: SessionPort) -> None:
        self._addresses = target_addresses(view)
        self._unix_paths = unix_paths(view)
        self._start_sample(view)

    def before_tick(self, view: SessionView, port: SessionPort) -> None:
        self._collect(port)
        if self._pending is not None:
            return  # the last read is still running: the tick shows it when it is done
        if self._skip > 0:
            self._skip -= 1
        else:
            self._start_sample(view)

    async def before_final_tick(self, view: SessionView, port: SessionPort) -> None:
        """The run's last point shows the sockets as it ends: the read in flight is awaited, and
        when it began more than `fresh_read_s` before the end, a fresh one after it."""
        ended = time.perf_counter()
        deadline = ended + FINAL_READ_TIMEOUT_S
        for _ in range(2):
            if self._pending is None:
                self._start_sample(view)
            pending = self._pending
            assert pending is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.shield(pending), max(0.0, deadline - time.perf_counter())
                )
            self._collect(port)
            if self._pending is not None or self._pending_began >= ended - self.fresh_read_s:
                return  # out of time, or a reading of the end

    def tick(self, view: SessionView, port: SessionPort) -> PointFields:
        self._collect(port)
        latest = self.latest
        if latest is None:
            return PointFields()
        return PointFields(time_wait=latest.total.time_wait, established=latest.total.established)

    def reset(self, view: SessionView, port: SessionPort) -> None:
        self._era += 1
        self.time_wait_peak = 0

    def snapshot_fields(self) -> SnapshotFields:
        latest = self.latest
        if latest is None:
            return SnapshotFields()
        return SnapshotFields(
            kernel=KernelSnapshot(
                targets=latest.targets,
                total=latest.total,
                time_wait_peak=self.time_wait_peak,
                ephemeral_in_use=latest.ephemeral_in_use,
                ephemeral_range=latest.ephemeral_range,
                fds_open=latest.fds_open,
                fds_limit=latest.fds_limit,
            )
        )

    def _start_sample(self, view: SessionView) -> None:
        own_ports = bytes(view.ledger.local_ports)  # a copy: the worker thread reads it
        quic = view.http_version is HttpVersion.HTTP3
        self._udp_targets = [
            (host, port) for host, port in self._addresses if quic and _is_address(host)
        ]
        self._pending_era = self._era
        self._pending_began = time.perf_counter()
        self._pending = asyncio.get_running_loop().run_in_executor(None, self._sample, own_ports)

    def _collect(self, port: SessionPort) -> None:
        pending = self._pending
        if pending is None or not pending.done():
            return
        self._pending = None
        if pending.cancelled():
            return
        error = pending.exception()
        if error is not None:
            self.error = f"{type(error).__name__}: {error}"
            port.log_once("kernel", f"kernel view failed: {self.error}")
            return
        sample = pending.result()
        if sample is None:
            return
        self.latest = sample
        if self._pending_era == self._era:  # begun before a reset: not this era's peak
            self.time_wait_peak = max(self.time_wait_peak, sample.total.time_wait)
        self._skip = max(0, math.ceil(sample.cost_ms / self.budget_ms) - 1)

    def _sample(self, own_ports: bytes) -> KernelSample | None:
        """In the worker thread: resolving a target's name may block, and so does the read."""
        if self._view is None:
            self._view = KernelView(self._endpoints(), source=self.source, proc_root=self.proc_root)
        sample = self._view.sample(own_ports)
        if sample is not None and self._unix_paths:
            sample = with_unix_sockets(sample, self._unix_paths, self.proc_root)
        if sample is not None and self._udp_targets:
            sample = with_udp_sockets(sample, self._udp_targets, self.proc_root)
        return sample

    def _endpoints(self) -> list[Endpoint]:
        endpoints = []
        for host, port in self._addresses:
            try:
                endpoints += endpoints_for(host, port, format_address(host, port))
            except OSError:
                continue  # unresolvable: the requests report that
        return endpoints


class GeneratorExtension(DiagnosticsExtension):
    """CPU% and event-loop lag of the engine, each second; `cpu_percent` in the timeline.

    While running the snapshot shows the last second; once stopped, the run's mean CPU% and its
    worst loop lag.
    """

    def __init__(self) -> None:
        self.monitor = GeneratorMonitor()
        self.load = GeneratorLoad()

    def started(self, view: SessionView, port: SessionPort) -> None:
        self.monitor.start()

    def tick(self, view: SessionView, port: SessionPort) -> PointFields:
        self.load = self.monitor.sample()
        return PointFields(cpu_percent=self.load.cpu_percent)

    def reset(self, view: SessionView, port: SessionPort) -> None:
        self.monitor.reset()
        self.load = GeneratorLoad()

    def stopped(self, view: SessionView, port: SessionPort) -> None:
        self.monitor.stop()
        final = self.monitor.sample()
        elapsed = max(view.elapsed(), 1e-3)
        self.load = GeneratorLoad(
            cpu_percent=round(100 * final.cpu_seconds / elapsed, 1),
            loop_lag_ms=self.monitor.peak_loop_lag_ms,
            cpu_seconds=final.cpu_seconds,
        )

    def snapshot_fields(self) -> SnapshotFields:
        return SnapshotFields(generator=self.load)


class DetectorExtension(DiagnosticsExtension):
    """Feeds the detectors one `Observation` a second; new warnings go to the event log."""

    def __init__(
        self, kernel: KernelExtension | None = None, generator: GeneratorExtension | None = None
    ) -> None:
        self.detectors = Detectors()
        self.kernel = kernel
        self.generator = generator
        self._levels: deque[tuple[object, ...]] = deque(maxlen=SETTLE_S)
        self._answered = 0
        self._opened = 0
        self._closes: dict[str, int] = {}
        self._server_idle_close: float | None = None
        self._modes: set[tuple[ReuseMode, HttpVersion]] = set()  # seen since the run began
        self._time_wait_start = 0
        self._time_wait_readings: deque[tuple[float, int]] = deque(maxlen=2)

    def started(self, view: SessionView, port: SessionPort) -> None:
        self._rebase(view)

    def tick(self, view: SessionView, port: SessionPort) -> PointFields:
        self._log(port, self.detectors.observe(self.observe(view)))
        return PointFields()

    def reset(self, view: SessionView, port: SessionPort) -> None:
        self.detectors.reset()
        self._rebase(view)

    def stopped(self, view: SessionView, port: SessionPort) -> None:
        """Judge the whole run too: a run too short for a steady window may still churn."""
        self._log(port, self.detectors.judge_run(self.run_totals(view)))

    def run_totals(self, session: SessionView) -> RunTotals:
        self._note_time_wait()
        return RunTotals(
            seconds=round(session.elapsed(), 3),
            reuse_mode=session.reuse_mode.value,
            one_mode=len(self._modes | {(session.reuse_mode, session.http_version)}) == 1,
            answered=_answered(session),
            opened=session.ledger.opened_total,
            held=session.ledger.peak_open,
            time_wait_start=self._time_wait_start,
            time_wait_readings=tuple(self._time_wait_readings),
        )

    def _log(self, port: SessionPort, warnings: Iterable[Warning]) -> None:
        for warning in warnings:
            port.event(
                EventKind.DETECTOR, f"{warning.kind}: {warning.message}", detector=warning.kind
            )

    def _note_time_wait(self) -> None:
        """Keep the kernel view's last two readings of this session's TIME_WAIT."""
        sample = self.kernel.latest if self.kernel is not None else None
        readings = self._time_wait_readings
        if sample is not None and (not readings or readings[-1][0] != sample.taken_at):
            readings.append((sample.taken_at, sample.total.time_wait))

    def snapshot_fields(self) -> SnapshotFields:
        return SnapshotFields(warnings=self.detectors.warnings)

    def _rebase(self, session: SessionView) -> None:
        self._levels.clear()
        self._answered = _answered(session)
        self._opened = session.ledger.opened_total
        self._closes = dict(session.ledger.closed_by_reason)
        self._server_idle_close = None
        self._modes = {(session.reuse_mode, session.http_version)}
        self._time_wait_readings.clear()
        self._time_wait_start = (self.kernel.time_wait if self.kernel is not None else None) or 0

    def observe(self, session: SessionView) -> Observation:
        """This second of `session`, as the detectors see it (call once a tick)."""
        ledger, metrics, config = session.ledger, session.metrics, session.config
        answered, opened = _answered(session), ledger.opened_total
        closes_total = dict(ledger.closed_by_reason)
        closes = {
            reason: n - self._closes.get(reason, 0)
            for reason, n in closes_total.items()
            if n != self._closes.get(reason, 0)
        }
        if "peer_closed" in closes:
            self._server_idle_close = _server_idle_close(session) or self._server_idle_close
        self._modes.add((session.reuse_mode, session.http_version))
        self._note_time_wait()
        observation = Observation(
            t=round(session.elapsed(), 3),
            steady=self._steady(session),
            reuse_mode=session.reuse_mode.value,
            http2=metrics.last_version == b"HTTP/2",
            open_model=config.open_model,
            concurrency=session.busy if config.open_model else session.concurrency,
            pool_keep=_pool_keep(session),
            answered=answered - self._answered,
            opened=opened - self._opened,
            closes=closes,
            answered_total=answered,
            closes_total=closes_total,
            server_keepalive_s=min(ledger.keepalive_hints) if ledger.keepalive_hints else None,
            server_idle_close_s=self._server_idle_close,
            client_idle_timeout_s=config.idle_timeout,
            **self._kernel_fields(),
            **self._generator_fields(),
        )
        self._answered, self._opened, self._closes = answered, opened, closes_total
        return observation

    def _steady(self, session: SessionView) -> bool:
        level = (
            session.rate if session.config.open_model else session.concurrency,
            session.reuse_mode,
            session.http_version,
            session.paused,
        )
        self._levels.append(level)
        if session.state is not State.RUNNING or session.elapsed() < SETTLE_S - 0.5:
            return False
        if len(self._levels) < SETTLE_S or any(seen != level for seen in self._levels):
            return False
        since = session.session_elapsed() - SETTLE_S
        for event in reversed(session.events):
            if event.t < since:
                break
            if event.kind in CHANGE_EVENTS:
                return False
        return True

    def _kernel_fields(self) -> _KernelFields:
        sample = self.kernel.latest if self.kernel is not None else None
        if sample is None:
            return {}
        return {
            "time_wait": sample.total.time_wait,
            "time_wait_at": sample.taken_at,
            "ephemeral_in_use": sample.ephemeral_in_use,
            "ephemeral_size": sample.ephemeral_size,
            "fds_open": sample.fds_open,
            "fds_limit": sample.fds_limit,
        }

    def _generator_fields(self) -> _GeneratorFields:
        if self.generator is None:
            return {}
        load = self.generator.load
        return {"cpu_percent": load.cpu_percent, "loop_lag_ms": load.loop_lag_ms}


class _KernelFields(TypedDict, total=False):
    time_wait: int
    time_wait_at: float
    ephemeral_in_use: int
    ephemeral_size: int
    fds_open: int
    fds_limit: int


class _GeneratorFields(TypedDict, total=False):
    cpu_percent: float
    loop_lag_ms: float


def _answered(session: SessionView) -> int:
    return session.metrics.requests_new + session.metrics.requests_reused


def _pool_keep(session: SessionView) -> int:
    keeps = [runner.shared.keep for runner in session.runners.values()]
    return min(keeps) if keeps else session.config.pool_keep(session.concurrency)


def _server_idle_close(session: SessionView) -> float | None:
    """How long connections sat idle before the server closed them (median of recent ones)."""
    idle = sorted(
        c.idle_s
        for c in session.ledger.recent_closed
        if c.close_reason == "peer_closed" and c.idle_s > 0
    )
    return idle[len(idle) // 2] if idle else None


@dataclass(frozen=True, slots=True)
class Diagnostics:
    """The extensions `attach_diagnostics` added, for callers that read them directly."""

    generator: GeneratorExtension
    kernel: KernelExtension | None
    detectors: DetectorExtension | None
    phases: PhaseExtension | None


def attach_diagnostics(
    session: ExtensionHost,
    *,
    phases: Iterable[PhaseSpec | tuple[ReuseMode | str, float]] = (),
    kernel_view: bool | None = None,
    detectors: bool | None = None,
) -> Diagnostics:
    """Add the generator's load, the kernel view and the detectors (as `session.config` says
    unless told) and the phases to `session`, before it starts."""
    kernel_view = session.config.kernel_view if kernel_view is None else kernel_view
    detectors = session.config.detectors if detectors is None else detectors
    generator = GeneratorExtension()
    kernel = KernelExtension() if kernel_view else None
    detector = DetectorExtension(kernel, generator) if detectors else None
    plan = list(phases)
    phase = PhaseExtension(plan, time_wait=kernel) if plan else None
    for extension in (generator, kernel, detector, phase):
        if extension is not None:
            session.add_extension(extension)
    return Diagnostics(generator, kernel, detector, phase)
