"""A load session: runners, virtual users, metrics and the controls, on one event loop.

`Session` is the in-process controller. `EngineProcess` (see `_process.py`) runs one in a child
process for the console, so drawing never slows the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from .._config import CloseReason, HttpVersion, ReuseMode, SessionConfig, State
from ..diagnostics import ConnectionLedger
from ..metrics import EventKind, EventRecord, Metrics, Snapshot, StepStats, TimelinePoint
from ..transport import PoolScope, Runner
from ._build import build_snapshot
from ._pacing import AsyncPacer, due_arrivals
from ._vu import VirtualUser
from .scenario import Scenario

EVENTS_KEPT = 500
STAGE_STEP = 0.1  # seconds between concurrency updates while ramping
TICK_SLACK = 0.1  # a tick this close to the end of the run is left to the final tick


__all__ = ["Session", "SessionExtension", "State"]


class SessionExtension(Protocol):
    """A hook into a session's life: the kernel view, detectors and phases plug in here
    (diagnostics' extensions satisfy it without importing the session)."""

    def started(self, session: Session) -> None:
        """Called once when the session starts."""

    def tick(self, session: Session) -> dict[str, object]:
        """Called every second; returns extra `TimelinePoint` fields."""
        return {}

    def reset(self, session: Session) -> None:
        """Called when statistics are reset."""

    def stopped(self, session: Session) -> None:
        """Called once when the session has stopped."""


class Session:
    def __init__(self, config: SessionConfig, scenario: Scenario) -> None:
        self.config = config
        self.scenario = scenario
        self.state = State.IDLE
        self.ledger = ConnectionLedger()
        self.metrics = Metrics(int(config.window))
        self.runners: dict[str, Runner] = {
            rc.name: Runner(rc, config, self.ledger) for rc in scenario.runner_configs()
        }
        self.steps: dict[str, StepStats] = {
            name: self.metrics.add_step(name) for name in scenario.step_names()
        }
        self.reuse_mode = config.reuse_mode
        self.http_version = config.http_version
        self.concurrency = max(0, config.concurrency)
        self.rate = config.rate
        self.max_vus = config.effective_max_vus()
        self.pacer = (
            AsyncPacer(config.max_iterations_per_second)
            if (config.max_iterations_per_second and not config.open_model)
            else None
        )
        self.busy = 0
        self.peak_vus = 0  # the most VUs running at once (retiring ones included)
        self.accepting = False
        self.aborting = False
        self.timeline: deque[TimelinePoint] = deque(maxlen=config.timeline_limit)
        self.events: deque[EventRecord] = deque(maxlen=EVENTS_KEPT)
        self.tick_listeners: list[Callable[[TimelinePoint], None]] = []
        self.extensions: list[SessionExtension] = []
        self.request_log: list[tuple[Any, ...]] | None = None  # --log-requests entries
        self._vus: list[VirtualUser] = []
        self._idle_vus: list[VirtualUser] = []
        self._next_vu_id = 1
        self._iteration_counter = 0  # iterations started, for `max_iterations` too
        self.iteration_numbering = (0, 1)  # runn.i = first + started * step (see `WorkerRole`)
        self._no_reuse: dict[str, PoolScope] = {}
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._ticker_task: asyncio.Task[None] | None = None
        self._started_at = 0.0
        self._stats_started_at = 0.0
        self._last_tick_at = 0.0
        self._warm_up_until = 0.0
        self._measure_until = 0.0  # perf_counter time after which no iteration starts; 0: none
        self._closing = asyncio.Event()  # set when no new iteration may start
        self._stopped = asyncio.Event()
        self._abort = asyncio.Event()
        self._finished = asyncio.Event()
        self._logged_once: set[str] = set()
        self.scenario.prepare(self.runners, self.steps)
        if hasattr(scenario, "dump_sink"):
            scenario.dump_sink = self._log_dump
        for warning in getattr(scenario, "event_warnings", ()):  # e.g. a runbook sends no load
            self.event(EventKind.WARNING, warning)
        self._dumps_logged: dict[str, float] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.state is not State.IDLE:
            return
        attach = getattr(self.scenario, "attach_session", None)
        if attach is not None:  # a scenario that grows rows as it runs (a streamed target list)
            attach(self.metrics.add_step, self.request_stop)
        for runner in self.runners.values():
            runner.prepare_tls()
        now = time.perf_counter()
        self._started_at = self._stats_started_at = now
        self.state = State.RUNNING
        self.accepting = True
        if self.config.warm_up > 0:
            self._warm_up_until = now + self.config.warm_up
        level = self.rate if self.config.open_model else self.concurrency
        self.event(EventKind.START, self._describe_start(), after=level)
        self._ticker_task = self._spawn(self._ticker())
        if self.config.open_model:
            self._spawn(self._arrivals())
        else:
            self._apply_concurrency(self._initial_concurrency())
        if self.config.stages and not self.warming_up:
            self._spawn(self._run_stages())
        for extension in self.extensions:
            extension.started(self)
        if self._iterations_spent():
            self.request_stop()

    async def run(self) -> None:
        """Start, warm up, measure for the duration (or until `stop()`), then stop."""
        await self.start()
        if self._iterations_spent():  # a worker whose share of `--iterations` is none
            self.request_stop()
        if self.warming_up and await self._runs_for(self.config.warm_up):
            self.end_warm_up()
        measured = self._measured_duration()
        if measured is not None:
            self._measure_until = time.perf_counter() + measured
        await self._runs_for(measured)
        await self.stop()

    async def _runs_for(self, seconds: float | None) -> bool:
        """Wait `seconds` (None: until stopped); False when asked to stop before."""
        if self._stopped.is_set():
            return False
        if seconds is None:
            await self._stopped.wait()
            return False
        try:
            await asyncio.wait_for(self._stopped.wait(), seconds)
        except TimeoutError:
            return True
        return False

    def _measured_duration(self) -> float | None:
        if self.config.duration:
            return self.config.duration
        if self.config.stages:
            return sum(s.duration for s in self.config.stages)
        return None

    def end_warm_up(self) -> None:
        """Statistics start now, and the seconds of the timeline count from here; stages too."""
        if not self.warming_up:
            return
        self._warm_up_until = 0.0
        self.reset_stats(f"warm-up of {self.config.warm_up:g}s done; statistics start now")
        if self._ticker_task is not None:
            self._ticker_task.cancel()
        self._ticker_task = self._spawn(self._ticker())
        if self.config.stages:
            self._spawn(self._run_stages())

    async def stop(self, grace: float | None = None) -> None:
        """Stop starting iterations, let running ones finish within the grace, close all."""
        if self.state is State.STOPPING:
            await self._finished.wait()
            return
        if self.state is State.STOPPED:
            return
        if self.state is State.IDLE:
            self.state = State.STOPPED
            self._stopped.set()
            self._finished.set()
            return
        self.state = State.STOPPING
        self.accepting = False
        self._closing.set()
        self._resumed.set()
        self.event(EventKind.STOP, "stopping: no new iterations; waiting for running ones")
        for vu in self._idle_vus:
            vu.assign(0.0)
        grace = self.config.stop_grace if grace is None else grace
        await self._drain_vus(grace)
        if self.warming_up:  # stopped before the measurement began: the warm-up stays out
            self._warm_up_until = 0.0
            self.reset_stats("stopped during the warm-up: nothing was measured")
        self._tick(final=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_connections()
        for extension in self.extensions:
            extension.stopped(self)
        self.state = State.STOPPED
        self.event(EventKind.STOPPED, "session stopped; every connection closed")
        self._stopped.set()
        self._finished.set()

    async def _drain_vus(self, grace: float) -> None:
        """Wait up to `grace` for running iterations, or until `abort()`; then cut the rest."""
        tasks = [vu.task for vu in self._vus if vu.task is not None and not vu.task.done()]
        if tasks and not self._abort.is_set():
            all_done = asyncio.ensure_future(asyncio.wait(tasks))
            aborted = asyncio.ensure_future(self._abort.wait())
            await asyncio.wait(
                {all_done, aborted}, timeout=grace, return_when=asyncio.FIRST_COMPLETED
            )
            all_done.cancel()
            aborted.cancel()
        pending = [task for task in tasks if not task.done()]
        if pending:
            self.aborting = True
            cut = f"cut {len(pending)} running iteration(s) at the end of the grace"
            self.event(EventKind.ABORT, cut)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def request_stop(self) -> None:
        """Ask `run()` to end now (signal handlers, the console's q)."""
        self._stopped.set()

    def abort(self) -> None:
        """A second interrupt: stop now and cut whatever is still in flight."""
        self._abort.set()
        self._stopped.set()

    async def _close_connections(self) -> None:
        for vu in self._vus:
            vu.drop_scopes(CloseReason.SESSION_END)
        for scope in self._no_reuse.values():
            scope.retire(CloseReason.SESSION_END)
        await asyncio.gather(*(runner.aclose() for runner in self.runners.values()))

    # -- controls ------------------------------------------------------------------------------
    def set_concurrency(self, n: int) -> None:
        n = max(0, int(n))
        if self.config.open_model:
            before, self.max_vus = self.max_vus, max(1, n)
            self.event(
                EventKind.MAX_VUS, f"max VUs → {self.max_vus}", before=before, after=self.max_vus
            )
            for runner in self.runners.values():
                runner.resize(self.config.pool_keep(self.max_vus))
            return
        if n == self.concurrency and len(self._live_vus()) == n:
            return
        self.event(
            EventKind.CONCURRENCY,
            f"concurrency {self.concurrency} → {n}",
            before=self.concurrency,
            after=n,
        )
        self.concurrency = n
        if self.accepting:
            self._apply_concurrency(n)

    def set_rate(self, rate: float) -> None:
        if not self.config.open_model:
            raise ValueError("set_rate needs an open-model session (started with a rate)")
        rate = max(0.0, float(rate))
        before = self.rate or 0.0
        self.event(EventKind.RATE, f"rate {before:g}/s → {rate:g}/s", before=before, after=rate)
        self.rate = rate

    def set_reuse_mode(self, mode: ReuseMode | str) -> None:
        mode = ReuseMode(mode)
        if mode is self.reuse_mode:
            return
        self.event(
            EventKind.REUSE,
            f"reuse mode {self.reuse_mode.value} → {mode.value}",
            mode=mode.value,
        )
        self.reuse_mode = mode
        for runner in self.runners.values():
            runner.replace_shared(CloseReason.MODE_SWITCH)
        for vu in self._vus:
            vu.drop_scopes(CloseReason.MODE_SWITCH)
        for scope in self._no_reuse.values():
            scope.retire(CloseReason.MODE_SWITCH)
        self._no_reuse.clear()

    def set_http_version(self, version: HttpVersion | str) -> None:
        version = HttpVersion(version)
        if version is self.http_version:
            return
        self.event(
            EventKind.HTTP,
            f"HTTP {self.http_version.describe()} → {version.describe()}",
            mode=version.value,
        )
        self.http_version = version
        for runner in self.runners.values():
            runner.switch_http_version(version)
        for vu in self._vus:
            vu.drop_scopes(CloseReason.MODE_SWITCH)
        for scope in self._no_reuse.values():
            scope.retire(CloseReason.MODE_SWITCH)
        self._no_reuse.clear()

    def pause(self) -> None:
        if self.state is State.RUNNING:
            self.state = State.PAUSED
            self._resumed.clear()
            self.event(EventKind.PAUSE, "paused: no new requests")

    def resume(self) -> None:
        if self.state is State.PAUSED:
            self.state = State.RUNNING
            self._resumed.set()
            self.event(EventKind.RESUME, "resumed")

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    async def wait_resumed(self) -> None:
        await self._resumed.wait()

    def reset_stats(self, reason: str = "statistics reset") -> None:
        self.metrics.reset()
        self.ledger.reset_counters()
        self.timeline.clear()
        self._stats_started_at = self._last_tick_at = time.perf_counter()
        for extension in self.extensions:
            extension.reset(self)
        self.event(EventKind.RESET, reason)

    def snapshot(self, timeline: int | None = 600) -> Snapshot:
        return build_snapshot(self, timeline)

    def add_extension(self, extension: SessionExtension) -> None:
        """Hook `extension` into this session's life (before it starts)."""
        self.extensions.append(extension)

    # -- virtual users -------------------------------------------------------------------------
    def _initial_concurrency(self) -> int:
        if self.config.stages and not self.warming_up:
            self.concurrency = 0  # the stages ramp from zero; after a warm-up, from -c
        return self.concurrency

    def _live_vus(self) -> list[VirtualUser]:
        return [vu for vu in self._vus if not vu.retiring]

    def _apply_concurrency(self, n: int) -> None:
        live = self._live_vus()
        for _ in range(n - len(live)):
            self._start_vu()
        for vu in live[n:] if n < len(live) else ():
            vu.retiring = True
        for runner in self.runners.values():
            runner.resize(self.config.pool_keep(n))

    def _start_vu(self, first_start: float = 0.0) -> VirtualUser:
        """A closed-model VU, or with `first_start` an open-model one with its first arrival."""
        vu = VirtualUser(self, self._next_vu_id)
        self._next_vu_id += 1
        self._vus.append(vu)
        self.peak_vus = max(self.peak_vus, len(self._vus))
        body = vu.run_open(first_start) if first_start else vu.run_closed()
        vu.task = asyncio.get_running_loop().create_task(body)
        vu.task.add_done_callback(lambda _task: self._vu_done(vu))
        return vu

    def _vu_done(self, vu: VirtualUser) -> None:
        with contextlib.suppress(ValueError):
            self._vus.remove(vu)
        with contextlib.suppress(ValueError):
            self._idle_vus.remove(vu)
        task = vu.task
        if task is not None and not task.cancelled() and task.exception() is not None:
            self.log_once("vu", f"virtual user crashed: {task.exception()!r}")

    def vu_idle(self, vu: VirtualUser) -> None:
        self._idle_vus.append(vu)

    def claim_iteration(self) -> int | None:
        """The run-wide index of a new iteration (runn.i; a worker's are spaced by the worker
        count, see `iteration_numbering`); None once `max_iterations` have started."""
        if self._iterations_spent():
            return None
        first, step = self.iteration_numbering
        index = first + self._iteration_counter * step
        self._iteration_counter += 1
        return index

    def iteration_ended(self) -> None:
        """The run ends when the last of its `max_iterations` has finished."""
        if self.busy == 0 and self._iterations_spent():
            self.request_stop()

    def _iterations_spent(self) -> bool:
        cap = self.config.max_iterations
        return cap is not None and self._iteration_counter >= cap

    def no_reuse_scope(self, runner: Runner) -> PoolScope:
        scope = self._no_reuse.get(runner.name)
        if scope is None:
            scope = self._no_reuse[runner.name] = runner.new_scope(keep=1, reuse=False)
        return scope

    @property
    def vus(self) -> int:
        return len(self._vus)

    # -- open model ----------------------------------------------------------------------------
    async def _arrivals(self) -> None:
        next_at = time.perf_counter()
        while self.accepting:
            if self.paused:
                await self.wait_resumed()
                next_at = time.perf_counter()
                continue
            rate = self.rate or 0.0
            if rate <= 0:
                await asyncio.sleep(0.05)
                next_at = time.perf_counter()
                continue
            interval = 1.0 / rate
            now = time.perf_counter()
            if next_at > now:
                await asyncio.sleep(next_at - now)
                continue
            due, following = due_arrivals(next_at, now, interval, 10_000)
            for k in range(due):
                self._dispatch(next_at + k * interval)
            next_at = following
            await asyncio.sleep(0)

    def _dispatch(self, intended: float) -> None:
        if self._measure_until and intended >= self._measure_until:
            return  # due after the end of the run: not an arrival of this run
        if self._iterations_spent():
            return  # every iteration of the run has started
        while self._idle_vus:
            vu = self._idle_vus.pop()
            if vu.assign(intended):
                return
        if len(self._vus) < self.max_vus:
            self._start_vu(intended)
            return
        self.metrics.record_dropped()

    # -- closed-model pacing (--max-rps) --------------------------------------------------------
    async def pace(self) -> bool:
        """Wait for the next start slot; False once no new iteration may start."""
        assert self.pacer is not None
        slot = self.pacer.reserve()
        if self._measure_until and slot >= self._measure_until:
            await self._closing.wait()  # the run ends before that slot
            return False
        delay = slot - time.perf_counter()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
        return self.accepting

    # -- stages --------------------------------------------------------------------------------
    async def _run_stages(self) -> None:
        level = float((self.rate or 0.0) if self.config.open_model else self.concurrency)
        for index, stage in enumerate(self.config.stages, 1):
            self.event(
                EventKind.STAGE,
                f"stage {index}: → {stage.target:g} over {stage.duration:g}s",
                before=level,
                after=stage.target,
            )
            start, began = level, time.perf_counter()
            while True:
                progress = (
                    min(1.0, (time.perf_counter() - began) / stage.duration)
                    if (stage.duration > 0)
                    else 1.0
                )
                value = start + (stage.target - start) * progress
                self._set_level(value)
                if progress >= 1.0:
                    break
                await asyncio.sleep(STAGE_STEP)
            level = stage.target

    def _set_level(self, value: float) -> None:
        if self.config.open_model:
            self.rate = value
        else:
            n = round(value)
            if n != self.concurrency or len(self._live_vus()) != n:
                self.concurrency = n
                if self.accepting:
                    self._apply_concurrency(n)

    # -- the 1 Hz tick -------------------------------------------------------------------------
    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + 1.0
        while True:
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            next_tick += 1.0
            if self._measure_until and time.perf_counter() > self._measure_until - TICK_SLACK:
                return  # the run ends now: the final tick covers this last second
            self._tick()

    def _tick(self, final: bool = False) -> None:
        now = time.perf_counter()
        sample = self.metrics.take_second()
        opened, closed = self.ledger.take_tick()
        elapsed = now - self._stats_started_at
        span = max(now - (self._last_tick_at or self._stats_started_at), 1e-3)
        self._last_tick_at = now
        if final and sample.requests == 0 and sample.iterations == 0:
            return
        p50, p90, p99 = sample.histogram.percentiles((50, 90, 99))
        extra: dict[str, object] = {}
        for extension in self.extensions:
            extra.update(extension.tick(self))
        point = TimelinePoint(
            t=self._second(elapsed, final),
            rps=round(sample.histogram.n / max(span, 0.05), 1),  # responses, whatever their status
            errors=sample.errors,
            concurrency=self.busy if self.config.open_model else self.concurrency,
            p50_ms=p50 / 1000,
            p90_ms=p90 / 1000,
            p99_ms=p99 / 1000,
            open=self.ledger.open,
            active=self.ledger.active,
            idle=self.ledger.idle,
            opened=opened,
            closed=closed,
            iterations=sample.iterations,
            dropped=sample.dropped,
            rate=self.rate,
            **extra,  # type: ignore[arg-type]
        )
        self.timeline.append(point)
        for listener in self.tick_listeners:
            listener(point)
        if not final:
            self._sweep()

    def _second(self, elapsed: float, final: bool) -> int:
        """The second a point closes. The final one comes right after the rest, with no gap,
        even when running iterations took the drain past more second boundaries (its rate is
        over the time it covers)."""
        if not final:
            return max(1, round(elapsed))
        return self.timeline[-1].t + 1 if self.timeline else max(1, math.ceil(elapsed - TICK_SLACK))

    def _sweep(self) -> None:
        now = time.monotonic()
        for runner in self.runners.values():
            runner.sweep(now)

    # -- bookkeeping ---------------------------------------------------------------------------
    def event(
        self,
        kind: EventKind,
        message: str,
        *,
        before: float | None = None,
        after: float | None = None,
        mode: str | None = None,
        detector: str | None = None,
    ) -> None:
        """Log `kind` with its typed values and the line people read."""
        started = self._started_at or time.perf_counter()
        t = round(time.perf_counter() - started, 3)
        self.events.append(EventRecord(t, kind, message, before, after, mode, detector))

    def log_once(self, key: str, message: str) -> None:
        if key not in self._logged_once:
            self._logged_once.add(key)
            self.event(EventKind.WARNING, message)

    def elapsed(self) -> float:
        return time.perf_counter() - self._stats_started_at if self._stats_started_at else 0.0

    def session_elapsed(self) -> float:
        return time.perf_counter() - self._started_at if self._started_at else 0.0

    @property
    def warming_up(self) -> bool:
        return bool(self._warm_up_until)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)
        return task

    def _log_dump(self, step: str, value: object) -> None:
        """A runbook's `dump` goes to the event log, at most once a second per step."""
        now = time.perf_counter()
        if now - self._dumps_logged.get(step, -1.0) < 1.0:
            return
        self._dumps_logged[step] = now
        self.event(EventKind.DUMP, f"{step}: {value!r}"[:300])

    def _describe_start(self) -> str:
        model = (
            f"open model at {self.rate:g} it/s (max {self.max_vus} VUs)"
            if self.config.open_model
            else f"{self.concurrency} VUs"
        )
        tls = any(runner.base_url.scheme == "https" for runner in self.runners.values())
        auto = "HTTP by ALPN" if tls else "HTTP/1.1 (auto: h2 needs TLS, or h2c)"
        versions = {"auto": auto, "http1": "HTTP/1.1", "http2": "HTTP/2"}
        version = versions.get(self.http_version.value, self.http_version.value)
        routes = sorted({r.route.describe() for r in self.runners.values() if not r.route.direct})
        via = "".join(f", via {route}" for route in routes)
        return f"started: {model}, reuse {self.reuse_mode.value}, {version}{via}"
