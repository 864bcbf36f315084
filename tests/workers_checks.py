"""The checks every kind of worker must pass (local processes, Ray actors), against the built-in
target's own counters: each test module runs them with its own pool."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from loadscope.engine import SessionConfig, Snapshot
from loadscope.engine.control import ScenarioSpec, WorkerController, WorkerPool
from loadscope.engine.target import TargetProcess

from .cli_support import loadscope

START_TIMEOUT = 180.0  # a cold Ray actor on a busy 2-core machine takes a while
WAIT = 60.0

PoolFactory = Callable[[], WorkerPool]

RUNN_I_BOOK = """\
desc: every iteration leaves its runn.i with the target
runners:
  api: ${TARGET}
steps:
  record:
    api:
      /users:
        post:
          body:
            application/json:
              i: "{{ runn.i }}"
    test: current.res.status == 201
"""


def controller(
    spec: ScenarioSpec, config: SessionConfig, pool: WorkerPool, workers: int = 2
) -> WorkerController:
    workers_controller = WorkerController(spec, config, workers=workers, pool=pool)
    workers_controller.start()
    assert workers_controller.wait_ready(START_TIMEOUT), workers_controller.exit_message
    return workers_controller


def wait_snapshot(
    control: WorkerController, condition: Callable[[Snapshot], bool], what: str
) -> Snapshot:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        snap = control.updates()
        if snap is not None and condition(snap):
            return snap
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {control.updates()}")


def stop(control: WorkerController) -> Snapshot:
    control.stop()
    final = control.wait_final(WAIT)
    control.close()
    assert final is not None, control.exit_message
    return final


def check_cli_counts(target: TargetProcess, extra: tuple[str, ...] = (), env: Any = None) -> None:
    """`--workers 2 -c 50`: every connection and request the target saw is in the report."""
    accepted, answered = target.accepted(), target.requests()
    result = loadscope(
        "run",
        f"{target.http_url}/",
        "--workers",
        "2",
        "-c",
        "50",
        "-d",
        "2s",
        "--format",
        "json",
        *extra,
        env=env,
        timeout=START_TIMEOUT + WAIT,
    )
    assert result.code == 0, result.err
    report = result.json()
    assert target.wait_until(lambda t: t.open_connections() == 0, timeout=WAIT)
    assert report["workers"] == 2
    assert report["connections_opened"] == 50 == target.accepted() - accepted
    assert report["requests_total"] == target.requests() - answered
    rows = report["per_worker"]
    assert [row["worker"] for row in rows] == [1, 2]
    assert sum(row["requests_total"] for row in rows) == report["requests_total"]
    assert sum(row["connections_opened"] for row in rows) == 50
    assert [row["connections_opened"] for row in rows] == [25, 25]


def check_live_concurrency(target: TargetProcess, pool: WorkerPool) -> None:
    """10 -> 40 -> 10 VUs, split 5+5, 20+20, 5+5: each worker's own snapshot shows its share."""
    spec = ScenarioSpec(url=f"{target.http_url}/delay/5")
    control = controller(spec, SessionConfig(concurrency=10), pool)
    try:
        for level in (10, 40, 10):
            control.set_concurrency(level)
            share = level // 2
            wait_snapshot(
                control,
                lambda s, share=share: (
                    [w.concurrency for w in s.workers] == [share, share] and s.vus == 2 * share
                ),
                f"{level} VUs as {share} + {share}",
            )
    finally:
        final = stop(control)
    assert final.requests_total > 0 and final.errors_total == 0


def check_runn_i_unique(target: TargetProcess, pool: WorkerPool, tmp_path: Path) -> None:
    """Over 1,000 iterations of two workers, the target records each runn.i once."""
    book = tmp_path / "record.yml"
    book.write_text(RUNN_I_BOOK)
    before = _recorded(target)
    spec = ScenarioSpec(runbooks=(str(book),), env={"TARGET": target.http_url})
    control = controller(spec, SessionConfig(concurrency=4), pool)
    try:
        wait_snapshot(control, lambda s: s.iterations_total >= 1000, "1,000 iterations")
    finally:
        final = stop(control)
    recorded = _recorded(target)[len(before) :]
    assert final.iterations_failed == 0
    assert len(recorded) == final.iterations_total >= 1000
    assert len(set(recorded)) == len(recorded), "a runn.i was used twice"
    assert {i % 2 for i in recorded} == {0, 1}  # both workers' numbering
    worker_rows = final.workers
    assert [w.requests_total for w in worker_rows] == [
        sum(1 for i in recorded if i % 2 == 0),
        sum(1 for i in recorded if i % 2 == 1),
    ]


def _recorded(target: TargetProcess) -> list[int]:
    users = httpx.get(f"{target.http_url}/users", timeout=WAIT).json()["users"]
    return [int(user["i"]) for user in users if "i" in user]


def check_pause_resume_and_clean_stop(target: TargetProcess, pool: WorkerPool) -> None:
    """Paused, no worker sends; resumed, both do; stopped, no connection is left open."""
    spec = ScenarioSpec(url=f"{target.http_url}/")
    control = controller(spec, SessionConfig(concurrency=4), pool)
    try:
        wait_snapshot(control, lambda s: all(w.requests_total for w in s.workers), "traffic")
        control.pause()
        wait_snapshot(control, lambda s: s.state == "paused", "every worker paused")
        quiet = _settled(target)
        # A second of the workers' own clocks while paused: nothing may go out meanwhile.
        paused_at = control.updates().session_s  # type: ignore[union-attr]
        wait_snapshot(control, lambda s: s.session_s >= paused_at + 1.0, "a paused second")
        assert target.requests() == quiet, "requests went out while paused"
        control.resume()
        counts = [w.requests_total for w in control.updates().workers]  # type: ignore[union-attr]
        wait_snapshot(
            control,
            lambda s: all(w.requests_total > n for w, n in zip(s.workers, counts, strict=True)),
            "both workers sending again",
        )
    finally:
        final = stop(control)
    assert final.state == "stopped"
    assert target.wait_until(lambda t: t.open_connections() == 0, timeout=WAIT)


def _settled(target: TargetProcess) -> int:
    """The target's request count once requests already in flight have landed."""
    deadline = time.monotonic() + WAIT
    count = target.requests()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = target.requests()
        if now == count:
            return count
        count = now
    raise AssertionError("requests kept arriving while paused")
