"""`--workers N|auto` and `--cluster`: a headless run over a `WorkerController`.

The console drives the controller itself (it has the controls of an engine process); `run` and
`loadt` poll it here: progress, the CSV timeline, the reachability check and Ctrl-C.
"""

from __future__ import annotations

import functools
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from ...engine import Snapshot, TimelinePoint
from ...engine.control import (
    PUSH_INTERVAL,
    WorkerController,
)
from ..live_thresholds import ABORT_CUT_S
from ..outputs.files import CsvTimeline
from . import _signals
from ._errors import UsageError
from ._extensions import setup_child_session
from ._options import LoadPlan, worker_pool_for
from ._outcome import UNREACHABLE_KINDS, Outcome
from ._outputs import MetricsAddress, serve_merged_metrics

POLL_S = 0.1
HEADLESS_PUSH_S = 1.0  # no console to feel immediate: workers report once a second
START_TIMEOUT_S = {"local": 60.0, "ray": 180.0}  # until every worker is ready


def worker_controller(
    plan: LoadPlan, setup: Callable[[Any], None], *, push_interval: float = PUSH_INTERVAL
) -> WorkerController:
    return WorkerController(
        plan.spec,
        plan.config,
        workers=plan.workers,
        pool=worker_pool_for(plan),
        setup=setup,
        push_interval=push_interval,
    )


def headless_setup(plan: LoadPlan, *, trace_steps: bool = False) -> Callable[[Any], None]:
    """What each worker attaches: the run's extensions (the CSV is written here, merged), and
    with `trace_steps` the `--iterations` trace of its steps."""
    return functools.partial(setup_child_session, plan, csv_path=None, trace_steps=trace_steps)


class _Interrupts:
    """SIGINT/SIGTERM: the first stops every worker, the second cuts in-flight work."""

    def __init__(self, controller: WorkerController) -> None:
        self.controller = controller
        self.count = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *_: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            self.controller.stop()
        else:
            self.controller.abort()


def drive_workers(
    plan: LoadPlan,
    *,
    progress: bool,
    csv_path: str | None,
    metrics: MetricsAddress | None = None,
    live: Callable[[Snapshot], object | None] | None = None,
    trace_steps: bool = False,
) -> Outcome:
    """`live`: checks the live thresholds; a result that is not None stops the run.
    `trace_steps`: each worker prints its steps' outcomes under `--iterations`."""
    setup = headless_setup(plan, trace_steps=trace_steps)
    controller = worker_controller(plan, setup, push_interval=HEADLESS_PUSH_S)
    csv = CsvTimeline(csv_path) if csv_path else None
    if csv is not None:
        controller.tick_listeners.append(_measured_only(controller, csv.write))
    server = serve_merged_metrics(metrics, controller)
    unreachable: str | None = None
    with _Interrupts(controller) as interrupts:
        try:
            controller.start()
            if _signals.interrupted():  # a signal while starting: stop at once, report it
                interrupts.count += 1
                controller.stop()
            unreachable = _poll_until_done(controller, plan, progress=progress, live=live)
        except RuntimeError as exc:  # Ray could not place the workers
            raise UsageError(str(exc)) from None
        finally:
            if progress:
                sys.stderr.write("\r\x1b[2K")
            controller.close()
            if csv is not None:
                csv.close()
            if server is not None:
                server.close()
    final = controller.final
    if final is None:
        reason = controller.exit_message or "the workers ended without a report"
        raise UsageError(f"engine failed: {reason}")
    return Outcome(final, interrupted=bool(interrupts.count), unreachable=unreachable)


def _poll_until_done(
    controller: WorkerController,
    plan: LoadPlan,
    *,
    progress: bool,
    live: Callable[[Snapshot], object | None] | None = None,
) -> str | None:
    started_by = time.monotonic() + START_TIMEOUT_S.get(controller.cluster, 60.0)
    unreachable: str | None = None
    last_line = last_check = 0.0
    stopped_at: float | None = None
    while not controller.finished:
        snapshot = controller.updates()
        now = time.monotonic()
        if stopped_at is not None and now - stopped_at > ABORT_CUT_S:
            controller.abort()  # a threshold stopped it: what still runs is cut
            stopped_at = float("inf")
        if live and snapshot and stopped_at is None and now - last_check >= 1.0:
            last_check = now
            if not controller.warming_up and live(snapshot) is not None:
                controller.stop()
                stopped_at = now
        if snapshot is None and time.monotonic() > started_by:
            controller.stop()
            raise RuntimeError(f"the {plan.workers} workers did not start in time")
        if snapshot is not None and unreachable is None:
            unreachable = never_answered(snapshot, plan)
            if unreachable:
                controller.stop()
        if progress and snapshot is not None and time.monotonic() - last_line >= 0.5:
            last_line = time.monotonic()
            sys.stderr.write("\r\x1b[2K" + progress_line(snapshot))
            sys.stderr.flush()
        time.sleep(POLL_S)
    controller.updates()
    return unreachable


def _measured_only(
    controller: WorkerController, write: Callable[[TimelinePoint], None]
) -> Callable[[TimelinePoint], None]:
    def listener(point: TimelinePoint) -> None:
        if not controller.warming_up:
            write(point)

    return listener


def never_answered(snapshot: Snapshot, plan: LoadPlan) -> str | None:
    """The target is not there: errors only, each saying so (as the in-process run checks)."""
    conns = snapshot.connections
    if conns.requests_new + conns.requests_reused:
        return None
    needed = max(1, min(plan.config.concurrency or 1, 3))
    kinds = {error.kind for error in snapshot.errors}
    if snapshot.errors_total < needed or not kinds or not kinds <= UNREACHABLE_KINDS:
        return None
    message = snapshot.errors[0].last_message
    if "://" not in message:
        message = f"{', '.join(snapshot.targets)}: {message}"
    if snapshot.errors[0].kind == "tls_verify":
        message += " (use --insecure, or a runbook runner with cacert)"
    return message


def progress_line(snapshot: Snapshot) -> str:
    workers = len(snapshot.workers) or 1
    return (
        f"[{snapshot.elapsed_s:,.1f}s] {snapshot.rps_now:,.0f} req/s  "
        f"{snapshot.requests_total:,} requests  {snapshot.errors_total:,} errors  "
        f"{snapshot.concurrency} VUs  {snapshot.connections.open} conns  "
        f"{workers} workers ({snapshot.cluster})  {snapshot.state}"
    )
