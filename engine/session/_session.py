"""A load session: runners, virtual users, metrics and the controls, on one event loop.

`Session` is the in-process controller and implements `Controls`; `EngineProcess` (in
`engine.control`) runs one in a child process for the console, so drawing never slows the load.
Its parts each have a module: the VUs and pacing (`Crowd`), the 1 Hz tick (`Timeline`), the
stages (`StagePlan`) and the event log (`EventLog`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from .._config import HttpVersion, ReuseMode, SessionConfig, State
from ..diagnostics import DiagnosticsExtension, RequestRows
from ..metrics import EventKind, EventRecord, Metrics, Snapshot, StepStats, TimelinePoint
from ._build import build_snapshot
from ._crowd import Crowd
from ._events import EventLog
from ._level import LoadLevel
from ._pacing import AsyncPacer, StagePlan
from ._scopes import Connections
from ._timeline import Timeline
from .scenario import DumpingScenario, GrowingScenario, Scenario, WarningScenario

__all__ = ["Session", "SessionExtension", "State"]

SessionExtension = DiagnosticsExtension  # the hooks a session calls: see `DiagnosticsExtension`


class Session:
    def __init__(self, config: SessionConfig, scenario: Scenario) -> None:
        self.config = config
        self.scenario = scenario
        self.state = State.IDLE
        self.metrics = Metrics(int(config.window))
        self.crowd = crowd = Crowd(self, config, self.metrics)
        self.connections = Connections(config, scenario.runner_configs(), self.crowd)
        self.steps: dict[str, StepStats] = {
            name: self.metrics.add_step(name) for name in scenario.step_names()
        }
        self.ledger = self.connections.ledger
        self.runners = self.connections.runners
        self.log = EventLog()
        self.event, self.log_once = self.log.event, self.log.log_once  # the SessionPort's calls
        self.events: Sequence[EventRecord] = self.log.records
        self.load = LoadLevel(config, self.crowd, self.connections, self.log)
        self.stages = StagePlan(config.stages, self.load.follow_stage, self.load.announce_stage)
        self.clock = Timeline(self, config.timeline_limit)
        self.timeline: Sequence[TimelinePoint] = self.clock.points
        self.tick_listeners = self.clock.listeners
        self.extensions: list[DiagnosticsExtension] = []
        self.pace, self.claim_iteration = crowd.pace, crowd.claim_iteration  # for the VUs
        self.vu_idle, self.no_reuse_scope = crowd.idle, self.connections.no_reuse_scope
        self.sweep = self.connections.sweep  # after each tick
        self.busy = 0
        self.aborting = False
        self.stats_since = ""  # "warm-up" or "reset" once the statistics restarted
        self.request_log: RequestRows | None = None  # --log-requests: a row per request
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._ticker_task: asyncio.Task[None] | None = None
        self._ended_at = 0.0  # perf_counter time the run ended (0: it has not)
        self._warm_up_until = 0.0
        self._stopped = asyncio.Event()
        self._abort = asyncio.Event()
        self._finished = asyncio.Event()
        self.scenario.prepare(self.runners, self.steps)
        if isinstance(scenario, DumpingScenario):
            scenario.dump_sink = self.log.log_dump
        if isinstance(scenario, WarningScenario):
            for warning in scenario.event_warnings:
                self.event(EventKind.WARNING, warning)

    # -- what the VUs, diagnostics and snapshots read -------------------------------------------
    @property
    def reuse_mode(self) -> ReuseMode:
        return self.connections.reuse_mode

    @property
    def http_version(self) -> HttpVersion:
        return self.connections.http_version

    @property
    def concurrency(self) -> int:
        return self.load.concurrency

    @property
    def rate(self) -> float | None:
        return self.load.rate

    @property
    def max_vus(self) -> int:
        return self.load.max_vus

    @property
    def accepting(self) -> bool:
        return self.load.accepting

    @property
    def level_set_by_hand(self) -> bool:
        return self.load.set_by_hand

    @property
    def vus(self) -> int:
        return len(self.crowd.vus)

    @property
    def peak_vus(self) -> int:
        return self.crowd.peak

    @property
    def pacer(self) -> AsyncPacer | None:
        return self.crowd.pacer

    @property
    def measure_until(self) -> float:
        return self.crowd.measure_until

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    @property
    def warming_up(self) -> bool:
        return bool(self._warm_up_until)

    def elapsed(self) -> float:
        started = self.clock.stats_started_at
        return self._now() - started if started else 0.0

    def session_elapsed(self) -> float:
        started = self.log.started_at
        return self._now() - started if started else 0.0

    def _now(self) -> float:
        """perf_counter time, held at the run's end once it has ended (the final report's
        durations leave out the closing of connections and the writing of logs)."""
        return self._ended_at or time.perf_counter()

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.state is not State.IDLE:
            return
        if isinstance(self.scenario, GrowingScenario):  # rows that arrive while it runs
            self.scenario.attach_session(self.metrics.add_step, self.stop)
        self.connections.prepare()
        now = time.perf_counter()
        self.log.started_at = now
        self.clock.restart(now)
        self.state = State.RUNNING
        if self.config.warm_up > 0:
            self._warm_up_until = now + self.config.warm_up
        self._ticker_task = self._spawn(self.clock.run())
        self.load.begin()  # before the start event says the level it set (stages: from 0 VUs)
        level = self.rate if self.config.open_model else self.concurrency
        started = f"started: {self.load.describe()}, {self.connections.describe()}"
        self.event(EventKind.START, started, after=level)
        if self.config.open_model:
            self._spawn(self.crowd.arrivals())
        if self.config.stages and not self.warming_up:
            self._spawn(self.stages.run(self.load.current()))
        for extension in self.extensions:
            extension.started(self, self)
        if self.crowd.iterations_spent():
            self.stop()

    async def run(self) -> None:
        """Start, warm up, measure for the duration (or until `stop()`), then shut down."""
        await self.start()
        if self.warming_up and await _runs_for(self._stopped, self.config.warm_up):
            self.end_warm_up()
        measured = _measured_duration(self.config)
        if measured is not None:
            self.crowd.measure_until = time.perf_counter() + measured
        if await _runs_for(self._stopped, measured) and measured is not None and self.config.stages:
            self.stages.settle(measured)
        await self.shutdown()

    def end_warm_up(self) -> None:
        """Statistics start now, and the seconds of the timeline count from here; stages too."""
        if not self.warming_up:
            return
        self._warm_up_until = 0.0
        self._reset("warm-up", f"warm-up of {self.config.warm_up:g}s done; statistics start now")
        if self._ticker_task is not None:
            self._ticker_task.cancel()
        self._ticker_task = self._spawn(self.clock.run())
        if self.config.stages:
            self._spawn(self.stages.run(self.load.current()))

    async def shutdown(self, grace: float | None = None) -> None:
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
        self.load.accepting = False
        self.crowd.closing.set()
        self._resumed.set()
        self.event(EventKind.STOP, "stopping: no new iterations; waiting for running ones")
        self.crowd.release_idle()
        await self._drain(self.config.stop_grace if grace is None else grace)
        if self.warming_up:  # stopped before the measurement began: the warm-up stays out
            self._warm_up_until = 0.0
            self._reset("warm-up", "stopped during the warm-up: nothing was measured")
        self._ended_at = time.perf_counter()  # the clocks stop here: what follows is cleanup
        if self._ticker_task is not None:
            self._ticker_task.cancel()
        if not self.aborting:  # cut by a second interrupt: the user wants out, not a last read
            for extension in self.extensions:
                await extension.before_final_tick(self, self)
        self.clock.tick(final=True, now=self._ended_at)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.connections.close()
        for extension in self.extensions:
            extension.stopped(self, self)
        self.state = State.STOPPED
        self.event(EventKind.STOPPED, "session stopped; every connection closed")
        self._stopped.set()
        self._finished.set()

    async def _drain(self, grace: float) -> None:
        """Wait up to `grace` for running iterations, or until `abort()`; then cut the rest."""
        cut = await self.crowd.drain(grace, self._abort)
        if cut:
            self.aborting = True
            self.event(EventKind.ABORT, f"cut {cut} running iteration(s) at the end of the grace")
            await self.crowd.cut()

    # -- controls (`Controls`) -------------------------------------------------------------------
    def stop(self) -> None:
        """Ask `run()` to end now (signal handlers, the console's q); it then shuts down."""
        self._stopped.set()

    async def wait_stop(self) -> None:
        """Until `stop()` or `abort()` is called (or the run ends)."""
        await self._stopped.wait()

    def abort(self) -> None:
        """A second interrupt: stop now and cut whatever is still in flight."""
        self._abort.set()
        self._stopped.set()

    def set_concurrency(self, n: int) -> None:
        self.load.set_concurrency(n)

    def set_rate(self, rate: float) -> None:
        self.load.set_rate(rate)

    def set_reuse_mode(self, mode: ReuseMode | str) -> None:
        mode = ReuseMode(mode)
        if mode is self.reuse_mode:
            return
        self.event(
            EventKind.REUSE, f"reuse mode {self.reuse_mode.value} → {mode.value}", mode=mode.value
        )
        self.connections.switch_reuse_mode(mode)

    def set_http_version(self, version: HttpVersion | str) -> None:
        version = HttpVersion(version)
        if version is self.http_version:
            return
        self.event(
            EventKind.HTTP,
            f"HTTP {self.http_version.describe()} → {version.describe()}",
            mode=version.value,
        )
        self.connections.switch_http_version(version)

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

    def reset_stats(self) -> None:
        self._reset("reset", "statistics reset")

    def snapshot(self, timeline: int | None = 600) -> Snapshot:
        return build_snapshot(self, timeline)

    def add_extension(self, extension: DiagnosticsExtension) -> None:
        """Hook `extension` into this session's life (before it starts)."""
        self.extensions.append(extension)

    def _reset(self, since: str, reason: str) -> None:
        self.stats_since = since
        self.metrics.reset()
        self.ledger.reset_counters()
        self.clock.restart(time.perf_counter())
        self.crowd.restart_peak()
        for extension in self.extensions:
            extension.reset(self, self)
        self.event(EventKind.RESET, reason)

    # -- what virtual users call (`VuSession`) ---------------------------------------------------
    async def wait_resumed(self) -> None:
        await self._resumed.wait()

    def iteration_ended(self) -> None:
        """The run ends when the last of its `max_iterations` has finished."""
        if self.busy == 0 and self.crowd.iterations_spent():
            self.stop()

    def log_requests(self, rows: RequestRows | None) -> None:
        self.request_log = rows

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)
        return task


async def _runs_for(stopped: asyncio.Event, seconds: float | None) -> bool:
    """Wait `seconds` (None: until `stopped`); False when `stopped` came first."""
    if stopped.is_set():
        return False
    if seconds is None:
        await stopped.wait()
        return False
    try:
        await asyncio.wait_for(stopped.wait(), seconds)
    except TimeoutError:
        return True
    return False


def _measured_duration(config: SessionConfig) -> float | None:
    """The measured time the run is set up for; None when it runs until stopped."""
    if config.duration:
        return config.duration
    if config.stages:
        return sum(stage.duration for stage in config.stages)
    return None
