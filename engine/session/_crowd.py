"""The session's virtual users: how many run, starting and retiring them, the open model's
arrivals, the closed model's pacing (--max-rps), and the run's iteration count."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

from .._config import CloseReason, SessionConfig
from ..metrics import Metrics
from ..transport import take_turn
from ._pacing import AsyncPacer, due_arrivals
from ._vu import VirtualUser, VuSession

ARRIVALS_AT_ONCE = 10_000  # the most arrivals started in one go when the loop fell behind
IDLE_RATE_POLL = 0.05  # seconds between looks at a rate of 0


async def _in_turn(vu: VirtualUser) -> None:
    """A closed-model VU, begun within the loop's per-turn budget: 10,000 started at once
    connect a few hundred per turn instead of all in one turn that stalls every timer."""
    await take_turn()
    await vu.run_closed()


class CrowdHost(VuSession, Protocol):
    """What the crowd reads of its session beyond what a VU does (`Session` is one)."""

    @property
    def rate(self) -> float | None: ...

    @property
    def max_vus(self) -> int:
        """Open model: the most VUs the arrivals may use."""
        ...


class Crowd:
    """The VUs of one session, live and retiring."""

    def __init__(self, host: CrowdHost, config: SessionConfig, metrics: Metrics) -> None:
        self._host = host
        self._config = config
        self._metrics = metrics
        # Dicts as ordered sets: a VU leaves in O(1) (10,000 ending together were O(n²) as lists).
        self.vus: dict[VirtualUser, None] = {}
        self._idle: dict[VirtualUser, None] = {}
        self._next_id = 1
        self.peak = 0  # the most VUs running at once (retiring ones included)
        self.started_iterations = 0  # for `max_iterations` too
        self.numbering = (0, 1)  # runn.i = first + started * step (see `WorkerRole`)
        self.measure_until = 0.0  # perf_counter time after which no iteration starts; 0: none
        self.closing = asyncio.Event()  # set when no new iteration may start
        rate = config.max_iterations_per_second
        self.pacer = AsyncPacer(rate) if (rate and not config.open_model) else None

    def live(self) -> list[VirtualUser]:
        return [vu for vu in self.vus if not vu.retiring]

    def resize(self, n: int) -> None:
        """Start VUs up to `n` live ones, or retire the newest beyond it."""
        live = self.live()
        for _ in range(n - len(live)):
            self._start(0.0)
        for vu in live[n:] if n < len(live) else ():
            vu.retiring = True

    def restart_peak(self) -> None:
        """The peak counts from now (statistics were reset)."""
        self.peak = len(self.vus)

    def _start(self, first_start: float) -> VirtualUser:
        """A closed-model VU, or with `first_start` an open-model one with its first arrival."""
        vu = VirtualUser(self._host, self._next_id)
        self._next_id += 1
        self.vus[vu] = None
        self.peak = max(self.peak, len(self.vus))
        body = vu.run_open(first_start) if first_start else _in_turn(vu)
        vu.task = asyncio.get_running_loop().create_task(body)
        vu.task.add_done_callback(lambda _task: self._done(vu))
        return vu

    def _done(self, vu: VirtualUser) -> None:
        self.vus.pop(vu, None)
        self._idle.pop(vu, None)
        task = vu.task
        if task is not None and not task.cancelled() and task.exception() is not None:
            self._host.log_once("vu", f"virtual user crashed: {task.exception()!r}")

    def idle(self, vu: VirtualUser) -> None:
        self._idle[vu] = None

    def release_idle(self) -> None:
        """Open model, stopping: the VUs waiting for an arrival get none and end."""
        for vu in self._idle:
            vu.assign(0.0)

    def drop_scopes(self, reason: CloseReason) -> None:
        for vu in self.vus:
            vu.drop_scopes(reason)

    # -- iterations -------------------------------------------------------------------------------
    def claim_iteration(self) -> int | None:
        """The run-wide index of a new iteration (runn.i; a worker's are spaced by the worker
        count, see `numbering`); None once `max_iterations` have started."""
        if self.iterations_spent():
            return None
        first, step = self.numbering
        index = first + self.started_iterations * step
        self.started_iterations += 1
        return index

    def iterations_spent(self) -> bool:
        cap = self._config.max_iterations
        return cap is not None and self.started_iterations >= cap

    # -- the end --------------------------------------------------------------------------------
    async def drain(self, grace: float, abort: asyncio.Event) -> int:
        """Wait up to `grace` for running iterations, or until `abort` is set; then cut the rest.
        Returns how many were cut."""
        tasks = [vu.task for vu in self.vus if vu.task is not None and not vu.task.done()]
        if tasks and not abort.is_set():
            all_done = asyncio.ensure_future(asyncio.wait(tasks))
            aborted = asyncio.ensure_future(abort.wait())
            await asyncio.wait(
                {all_done, aborted}, timeout=grace, return_when=asyncio.FIRST_COMPLETED
            )
            all_done.cancel()
            aborted.cancel()
        return len([task for task in tasks if not task.done()])

    async def cut(self) -> None:
        pending = [vu.task for vu in self.vus if vu.task is not None and not vu.task.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- open model -----------------------------------------------------------------------------
    async def arrivals(self) -> None:
        """Start iterations at the session's rate, on schedule, whatever the response times."""
        host = self._host
        next_at = time.perf_counter()
        while host.accepting:
            if host.paused:
                await host.wait_resumed()
                next_at = time.perf_counter()
                continue
            rate = host.rate or 0.0
            if rate <= 0:
                await asyncio.sleep(IDLE_RATE_POLL)
                next_at = time.perf_counter()
                continue
            interval = 1.0 / rate
            now = time.perf_counter()
            if next_at > now:
                await asyncio.sleep(next_at - now)
                continue
            due, following = due_arrivals(next_at, now, interval, ARRIVALS_AT_ONCE)
            for k in range(due):
                self._dispatch(next_at + k * interval)
            next_at = following
            await asyncio.sleep(0)

    def _dispatch(self, intended: float) -> None:
        if self.measure_until and intended >= self.measure_until:
            return  # due after the end of the run: not an arrival of this run
        if self.iterations_spent():
            return  # every iteration of the run has started
        while self._idle:
            vu, _ = self._idle.popitem()
            if vu.assign(intended):
                return
        if len(self.vus) < self._host.max_vus:
            self._start(intended)
            return
        self._metrics.record_dropped()

    # -- closed-model pacing (--max-rps) ----------------------------------------------------------
    async def pace(self) -> bool:
        """Wait for the next start slot; False once no new iteration may start."""
        assert self.pacer is not None
        slot = self.pacer.reserve()
        if self.measure_until and slot >= self.measure_until:
            await self.closing.wait()  # the run ends before that slot
            return False
        delay = slot - time.perf_counter()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), delay)
        return self._host.accepting
