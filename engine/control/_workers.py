"""One session over N workers: engine processes on this machine, or Ray actors anywhere.

`WorkerController` implements `Controls`, as `Session` and `EngineProcess` do. It splits the
load (51 VUs over 2 workers is 26 + 25; rates and caps by N), fans every live change out to every
worker, starts them together once all are ready, and merges what comes back into one snapshot
(see `loadscope.engine.metrics._merge`) that the detectors judge as a whole.

A worker is anything that implements `WorkerHandle`: `EngineProcess` with a role (a child
process), or the Ray adapter's actor handle (`_ray.py`, the only module that imports Ray).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .._config import SessionConfig
from ..metrics import Snapshot, TimelinePoint, WorkerPart, all_stopped, merge_snapshots
from ..session import Command, CommandControls, ControlError, SetConcurrency, SetRate
from ._judge import MergedJudge
from ._process import PUSH_INTERVAL, EngineProcess
from ._runtime import LIVE_TIMELINE, WorkerRole, core_for
from ._spec import ScenarioSpec
from ._split import split_amount, split_count, worker_config

Setup = Callable[[Any], None]


class WorkerHandle(Protocol):
    """One worker of a split session, as the controller drives it; never blocks."""

    role: WorkerRole | None
    node: str | None  # known once ready
    final: Snapshot | None
    errors: list[str]
    exit_message: str | None

    def start(self) -> None: ...
    @property
    def ready(self) -> bool: ...
    def go(self) -> None: ...
    def send(self, command: Command) -> None:
        """Deliver `command` to the worker's session; ControlError when it cannot."""

    def updates(self) -> Snapshot | None: ...
    @property
    def finished(self) -> bool: ...
    def close(self, timeout: float = 3.0) -> None: ...


class WorkerPool(Protocol):
    """Makes the workers: local processes, or Ray actors placed across a cluster."""

    cluster: str

    def create(
        self,
        spec: ScenarioSpec,
        config: SessionConfig,
        count: int,
        setup: Setup | None,
        push_interval: float,
    ) -> list[WorkerHandle]: ...

    def shutdown(self) -> None: ...


def available_cores() -> int:
    """The cores this process may run on (`--workers auto`)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without affinity
        return os.cpu_count() or 1


class LocalPool:
    """Worker processes on this machine; each counts its own sockets in the kernel view.

    When every worker can have a core of its own, each is pinned to one (`pin=False` leaves
    them to the scheduler): a worker that migrates between cores, or shares one with another
    worker, pays for it in context switches and cold caches on every request."""

    cluster = "local"

    def __init__(self, pin: bool = True) -> None:
        self.pin = pin

    def cores_for(self, count: int) -> list[int | None]:
        return [core_for(slot, count) if self.pin else None for slot in range(count)]

    def create(
        self,
        spec: ScenarioSpec,
        config: SessionConfig,
        count: int,
        setup: Setup | None,
        push_interval: float,
    ) -> list[WorkerHandle]:
        return [
            EngineProcess(
                spec,
                worker_config(config, index, count),
                push_interval=push_interval,
                setup=setup,
                role=WorkerRole(index + 1, count, cpu),
            )
            for index, cpu in enumerate(self.cores_for(count))
        ]

    def shutdown(self) -> None:
        """Nothing outlives the processes."""


class ClusterError(ValueError):
    """The cluster named cannot be used: bad spelling, or Ray not installed."""


def worker_pool(cluster: str | None, *, pin: bool = True) -> WorkerPool:
    """`None`/"local": processes here (`pin`: one core each, when there are enough); "ray"
    (RAY_ADDRESS or a local cluster) or "ray://HOST:PORT": Ray actors, placed by Ray. Ray is
    imported only here, and only then."""
    if cluster in (None, "", "local"):
        return LocalPool(pin)
    assert cluster is not None
    if cluster != "ray" and not cluster.startswith("ray://"):
        raise ClusterError(f"--cluster: {cluster!r} is not local, ray or ray://HOST:PORT")
    try:
        from ._ray import RayPool
    except ImportError:
        raise ClusterError("--cluster ray needs Ray: pip install 'loadscope[ray]'") from None
    return RayPool(cluster if cluster.startswith("ray://") else None, pin)


class MergedHistory:
    """The merged seconds so far (the live chart's), as workers send only their latest ones."""

    def __init__(self, limit: int = LIVE_TIMELINE) -> None:
        self.limit = limit
        self._points: dict[int, TimelinePoint] = {}
        self._elapsed = 0.0

    def add(self, merged: Snapshot) -> tuple[TimelinePoint, ...]:
        restarted = merged.elapsed_s < self._elapsed  # statistics were reset (or a warm-up ended)
        self._elapsed = merged.elapsed_s
        if restarted:
            self._points.clear()
        for point in merged.timeline:
            self._points[point.t] = point
        for t in sorted(self._points)[: max(0, len(self._points) - self.limit)]:
            del self._points[t]
        return tuple(self._points[t] for t in sorted(self._points))


class WorkerController(CommandControls):
    """A session split over `workers` workers, behind the controls of a single one."""

    def __init__(
        self,
        spec: ScenarioSpec,
        config: SessionConfig,
        *,
        workers: int,
        pool: WorkerPool | None = None,
        setup: Setup | None = None,
        push_interval: float = PUSH_INTERVAL,
    ) -> None:
        if workers < 1:
            raise ValueError("--workers needs 1 or more")
        self.spec = spec
        self.config = config
        self.count = workers
        self.pool: WorkerPool = pool or LocalPool()
        self._setup = setup
        self._push_interval = push_interval
        self.handles: list[WorkerHandle] = []
        self._judge = MergedJudge(config)
        self._started = False
        self._concurrency = config.concurrency
        self._latest: Snapshot | None = None
        self.final: Snapshot | None = None
        self.errors: list[str] = []
        self.exit_message: str | None = None
        self.tick_listeners: list[Callable[[TimelinePoint], None]] = []  # each merged second
        self._emitted_t = 0
        self._merged_from: list[Snapshot | None] = []
        self._history = MergedHistory()
        self._seconds: dict[object, TimelinePoint] = {}  # merged seconds, each merged once
        self.warming_up = config.warm_up > 0  # as the latest merged snapshot says

    @property
    def cluster(self) -> str:
        return self.pool.cluster

    def start(self) -> None:
        """Start every worker (they begin the load together once all are ready). RuntimeError
        when the cluster cannot take them (Ray did not start, or could not place them)."""
        self.handles = self.pool.create(
            self.spec, self.config, self.count, self._setup, self._push_interval
        )
        for handle in self.handles:
            handle.start()

    # -- controls (never block) ------------------------------------------------------------
    def send(self, command: Command) -> None:
        """Split the load's level over the workers; send anything else to each of them.
        ControlError (naming the workers) when it cannot reach some of them."""
        if isinstance(command, SetConcurrency):
            self._concurrency = command.n
            parts = split_count(command.n, self.count)
            self._deliver([SetConcurrency(part) for part in parts])
        elif isinstance(command, SetRate):
            self._deliver([SetRate(part) for part in split_amount(command.rate, self.count)])
        else:
            self._deliver([command] * len(self.handles))

    def _deliver(self, commands: Sequence[Command]) -> None:
        failures = []
        for index, (handle, command) in enumerate(zip(self.handles, commands, strict=True), 1):
            try:
                handle.send(command)
            except ControlError as exc:
                failures.append(f"worker {index}: {exc}")
        if failures:
            raise ControlError("; ".join(failures))

    # -- updates ------------------------------------------------------------------------------
    def updates(self) -> Snapshot | None:
        """Poll every worker; return the newest merged snapshot (or the latest seen)."""
        latest = [handle.updates() for handle in self.handles]
        self._collect_errors()
        if not self._started and self.handles and all(h.ready for h in self.handles):
            self._started = True
            for handle in self.handles:
                handle.go()
        if self.exit_message is None:
            self._check_failures()
        if all(h.finished for h in self.handles) and self.handles:
            self._finish()
        elif all(snap is not None for snap in latest) and self._news(latest):
            self._latest = self._merge([s for s in latest if s is not None])
        return self._latest

    def _news(self, latest: list[Snapshot | None]) -> bool:
        """Whether any worker sent a snapshot since the last merge (merging costs CPU)."""
        news = len(latest) != len(self._merged_from) or any(
            now is not before for now, before in zip(latest, self._merged_from, strict=True)
        )
        self._merged_from = latest
        return news

    def snapshot(self) -> Snapshot | None:
        return self.updates()

    def _merge(self, snaps: Sequence[Snapshot]) -> Snapshot:
        parts = [
            WorkerPart(index + 1, handle.node or "?", snap)
            for index, (handle, snap) in enumerate(zip(self.handles, snaps, strict=True))
        ]
        merged = merge_snapshots(parts, cluster=self.cluster, timeline_cache=self._seconds)
        if not all_stopped(snaps):
            merged = dataclasses.replace(merged, timeline=self._history.add(merged))
        self._judge.observe(merged, parts)
        self.warming_up = merged.warming_up
        self._emit_seconds(merged.timeline)
        return dataclasses.replace(merged, warnings=self._judge.warnings())

    def _emit_seconds(self, timeline: Sequence[TimelinePoint]) -> None:
        if timeline and timeline[-1].t < self._emitted_t:  # statistics were reset
            self._emitted_t = 0
        for point in timeline:
            if point.t > self._emitted_t:
                self._emitted_t = point.t
                for listener in self.tick_listeners:
                    listener(point)

    def _finish(self) -> None:
        if self.final is not None:
            return
        finals = [h.final for h in self.handles]
        if all(snap is not None for snap in finals):
            self._latest = self.final = self._merge([s for s in finals if s is not None])

    def _collect_errors(self) -> None:
        for handle in self.handles:
            while handle.errors:
                message = handle.errors.pop(0)
                if message not in self.errors:  # every worker says the same about a bad value
                    self.errors.append(message)

    def _check_failures(self) -> None:
        """A worker that died takes the session down: stop the rest, say which one."""
        for index, handle in enumerate(self.handles, 1):
            if handle.exit_message is not None and handle.final is None:
                self.exit_message = f"worker {index}: {handle.exit_message}"
                with contextlib.suppress(ControlError):  # said already: the worker is gone
                    self.stop()
                return

    @property
    def finished(self) -> bool:
        if self.exit_message is not None:
            return all(h.finished for h in self.handles)
        return self.final is not None

    def wait_final(self, timeout: float) -> Snapshot | None:
        deadline = time.monotonic() + timeout
        while not self.finished and time.monotonic() < deadline:
            self.updates()
            time.sleep(0.05)
        self.updates()
        return self.final

    def wait_ready(self, timeout: float) -> bool:
        """Block until every worker is ready and started (tests, the headless run)."""
        deadline = time.monotonic() + timeout
        while not self._started and time.monotonic() < deadline:
            self.updates()
            if self.exit_message is not None:
                return False
            time.sleep(0.02)
        return self._started

    def close(self, timeout: float = 3.0) -> None:
        for handle in self.handles:
            handle.close(timeout)
        self.pool.shutdown()
