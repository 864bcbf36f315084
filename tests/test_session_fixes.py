"""Issue 21's session findings: a reset keeps nothing from before it (peak VUs, the TIME_WAIT
peak, the warm-up's wording, the model after a change by hand), ramps end on their targets, and
the kernel columns of a second show that second."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from loadscope.engine import (
    HttpVersion,
    KernelExtension,
    ReuseMode,
    Session,
    SessionConfig,
    Snapshot,
    Stage,
    UrlScenario,
)
from loadscope.engine._loop import run_event_loop
from loadscope.engine.diagnostics import DiagnosticsExtension, SessionPort, SessionView
from loadscope.engine.session import level_at
from loadscope.engine.target import TargetProcess
from loadscope.tui.cli._loadt import loadt_values
from loadscope.tui.cli._text import render_text
from loadscope.tui.describe import run_description

from .fake_snapshots import make_snapshot
from .reports import report_of

WAIT = 60.0
V4 = "0100007F"  # 127.0.0.1 as /proc spells it
TARGET = f"{V4}:1F90"  # 127.0.0.1:8080
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
TAIL = "00000000:00000000 00:00000000 00000000     0        0 4324403 1 0000000039965622 20 0 0"


def proc_row(local: str, remote: str, state: str) -> str:
    return f"   0: {local} {remote} {state} {TAIL} 10 -1"


def fake_proc(root: Path, rows: list[str]) -> None:
    (root / "net").mkdir(exist_ok=True)
    (root / "net" / "tcp").write_text("\n".join([HEADER, *rows]) + "\n")
    (root / "net" / "tcp6").write_text(HEADER + "\n")
    (root / "sys" / "net" / "ipv4").mkdir(parents=True, exist_ok=True)
    (root / "sys" / "net" / "ipv4" / "ip_local_port_range").write_text("32768\t60999\n")
    (root / "self" / "fd").mkdir(parents=True, exist_ok=True)


def established(port: int) -> list[str]:
    """Both ends of a connection from 127.0.0.1:`port` to the target."""
    own = f"{V4}:{port:04X}"
    return [proc_row(own, TARGET, "01"), proc_row(TARGET, own, "01")]


def time_waits(ports: range) -> list[str]:
    return [proc_row(f"{V4}:{port:04X}", TARGET, "06") for port in ports]


async def read_done(kernel: KernelExtension) -> None:
    """Until the reading the kernel view started is in (the thread's work, on a deadline)."""
    deadline = time.monotonic() + WAIT
    while kernel._pending is not None and not kernel._pending.done():
        assert time.monotonic() < deadline, "the kernel reading never finished"
        await asyncio.sleep(0.01)


def kernel_session(root: Path) -> tuple[Session, KernelExtension]:
    session = Session(SessionConfig(), UrlScenario("http://127.0.0.1:8080/"))
    for port in range(40000, 40020):
        session.ledger.local_ports[port] = 1  # the session's own connections used these
    return session, KernelExtension(source="proc", proc_root=str(root))


# -- 9: the kernel columns of a second show that second ------------------------------------------
async def test_a_tick_shows_the_sockets_as_its_second_ends(tmp_path: Path) -> None:
    fake_proc(tmp_path, [])
    session, kernel = kernel_session(tmp_path)
    kernel.started(session, session)  # nothing open yet as the session starts
    await read_done(kernel)
    fake_proc(tmp_path, [row for port in range(40000, 40010) for row in established(port)])
    kernel.before_tick(session, session)  # the ten VUs connected during the first second
    await read_done(kernel)
    fields = kernel.tick(session, session)
    assert fields.established == 20  # both ends of 10 connections, in second 1, not second 2


# -- 7: a reset keeps nothing from before it --------------------------------------------------
async def test_the_time_wait_peak_counts_from_the_reset(tmp_path: Path) -> None:
    fake_proc(tmp_path, time_waits(range(40000, 40015)))
    session, kernel = kernel_session(tmp_path)
    kernel.started(session, session)
    await read_done(kernel)
    kernel.tick(session, session)
    assert kernel.time_wait_peak == 15
    kernel.before_tick(session, session)  # a reading under way when the statistics are reset...
    kernel.reset(session, session)
    await read_done(kernel)
    kernel.tick(session, session)
    assert kernel.time_wait_peak == 0  # ...is not part of the new statistics
    fake_proc(tmp_path, time_waits(range(40000, 40003)))
    kernel.before_tick(session, session)
    await read_done(kernel)
    kernel.tick(session, session)
    assert kernel.time_wait_peak == 3
    assert kernel.snapshot_fields().kernel is not None
    assert kernel.snapshot_fields().kernel.time_wait_peak == 3  # type: ignore[union-attr]


async def wait_until(session: Session, condition: str) -> None:
    deadline = time.monotonic() + WAIT
    while not eval(condition, {"s": session}):
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_reset_forgets_the_peak_and_says_the_level_was_set_by_hand(
    target: TargetProcess,
) -> None:
    session = Session(SessionConfig(concurrency=6), UrlScenario(f"{target.http_url}/"))
    running = asyncio.create_task(session.run())
    await wait_until(session, "s.vus == 6 and s.metrics.requests > 0")
    session.set_concurrency(2)
    await wait_until(session, "s.vus == 2")  # the retired four have finished
    session.reset_stats()
    session.stop()
    await asyncio.wait_for(running, WAIT)
    snapshot = session.snapshot()
    assert snapshot.peak_vus == 2
    assert snapshot.stats_since == "reset" and snapshot.level_set_by_hand
    assert run_description(session.config, snapshot)["model"] == "externally-controlled"


def text_of(snapshot: Snapshot) -> str:
    values = loadt_values(
        snapshot,
        runbooks=1,
        warm_up="0s",
        duration="90s",
        duration_s=90.0,
        concurrent=snapshot.concurrency,
        max_rps=0,
    )
    return render_text(snapshot, report_of(snapshot), values)


def test_connections_open_at_a_reset_are_not_called_the_warm_ups() -> None:
    snapshot = make_snapshot(30)
    carried = dataclasses.replace(snapshot.connections, carried_over=5)
    after_reset = dataclasses.replace(
        snapshot, connections=carried, stats_since="reset", level_set_by_hand=True
    )
    text = text_of(after_reset)
    assert "(+5 from before the reset)" in text and "from the warm-up" not in text
    assert "changed by hand" in text
    after_warm_up = dataclasses.replace(snapshot, connections=carried, stats_since="warm-up")
    assert "(+5 from the warm-up)" in text_of(after_warm_up)


# -- 8: ramps end on their targets -----------------------------------------------------------
def test_the_stage_plan_reaches_each_target_at_its_end() -> None:
    stages = (Stage(2, 20), Stage(2, 0))
    assert level_at(stages, 0, 0.0) == (0, 0)
    assert level_at(stages, 0, 1.0) == (0, 10)
    assert level_at(stages, 0, 2.0) == (1, 20)
    assert level_at(stages, 0, 3.0) == (1, 10)
    assert level_at(stages, 0, 4.0) == (2, 0)
    assert level_at((Stage(0, 7),), 3, 0.0) == (1, 7)  # a step, at once


@pytest.mark.slow
async def test_ramps_end_on_their_targets(target: TargetProcess) -> None:
    url = f"{target.http_url}/"
    up = Session(SessionConfig(stages=(Stage(1.0, 60),)), UrlScenario(url))
    await asyncio.wait_for(up.run(), WAIT)
    assert up.snapshot().concurrency == 60 and up.snapshot().peak_vus == 60
    down = Session(SessionConfig(stages=(Stage(0.5, 30), Stage(0.5, 0))), UrlScenario(url))
    await asyncio.wait_for(down.run(), WAIT)
    assert down.snapshot().concurrency == 0


class _SlowToStop(DiagnosticsExtension):
    """Takes its time once the session has stopped (as the request log's writer can), and
    notes the session's clocks as it begins."""

    def __init__(self) -> None:
        self.at_stop: tuple[float, float] | None = None

    def stopped(self, view: SessionView, port: SessionPort) -> None:
        self.at_stop = (view.elapsed(), view.session_elapsed())
        time.sleep(0.3)


async def test_the_clocks_stop_when_the_run_ends_not_after_the_cleanup(
    target: TargetProcess,
) -> None:
    slow = _SlowToStop()
    session = Session(SessionConfig(concurrency=2, max_iterations=40), UrlScenario(target.http_url))
    session.extensions.append(slow)
    await asyncio.wait_for(session.run(), 30)
    final = session.snapshot()
    assert slow.at_stop == (session.elapsed(), session.session_elapsed())
    assert (final.elapsed_s, final.session_s) == tuple(round(t, 3) for t in slow.at_stop)
    assert final.rps_mean == round(final.latency.count / session.elapsed(), 1)


def test_after_a_reset_a_run_without_a_plan_does_not_repeat_its_duration() -> None:
    snapshot = dataclasses.replace(
        make_snapshot(4, concurrency=2, state="stopped"),
        elapsed_s=3.0,
        session_s=15.0,
        stats_since="reset",
        duration_s=None,
    )
    values = loadt_values(
        snapshot, runbooks=1, warm_up="0s", duration="3s", duration_s=3.0, concurrent=2, max_rps=0
    )
    text = render_text(snapshot, report_of(snapshot), values)
    line = next(line for line in text.splitlines() if line.startswith("Duration"))
    assert line.endswith(": 3s (measured since the reset)"), line


def _refusing_url() -> str:
    """A loopback port nothing listens on (bound, then closed, so no one else has it now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


async def _cycles_after_refused_connects(url: str, iterations: int) -> int:
    session = Session(SessionConfig(concurrency=2, max_iterations=iterations), UrlScenario(url))
    gc.collect()
    gc.disable()
    try:
        await asyncio.wait_for(session.run(), 30)
        errors = {error.kind: error.count for error in session.snapshot().errors}
        assert errors == {"connect_refused": iterations}
        return gc.collect()
    finally:
        gc.enable()


async def test_refused_connects_leave_no_reference_cycles() -> None:
    """A failed connect's OSError held, through its traceback, the frame of the future that
    held it: a cycle per failure, for the collector to walk in one long pause."""
    url = _refusing_url()
    few = await _cycles_after_refused_connects(url, 100)
    many = await _cycles_after_refused_connects(url, 400)
    assert many - few < 100  # 38 objects per refused connect before: 11,400 more


def _cycles_on_the_engines_loop(url: str, iterations: int, **config: Any) -> int:
    """Objects left in reference cycles by a run of `iterations`, on the engine's own event loop
    (uvloop here), whose run has the cyclic collector off."""

    async def run() -> int:
        settings = SessionConfig(concurrency=2, max_iterations=iterations, **config)
        session = Session(settings, UrlScenario(url))
        await asyncio.wait_for(session.run(), 30)
        assert session.snapshot().iterations_total == iterations
        return gc.collect()

    return run_event_loop(run())


@pytest.mark.parametrize("version", [HttpVersion.HTTP1, HttpVersion.HTTP2])
def test_closed_connections_leave_no_reference_cycles(
    target: TargetProcess, version: HttpVersion
) -> None:
    """A connection per iteration: each closed HTTP/1.1 connection (its parser held its
    callbacks, its transport it) and each HTTP/2 one (through its wire) stayed in a cycle until
    the collector's next pass."""
    mode = ReuseMode.PER_ITERATION
    few = _cycles_on_the_engines_loop(target.http_url, 100, http_version=version, reuse_mode=mode)
    many = _cycles_on_the_engines_loop(target.http_url, 400, http_version=version, reuse_mode=mode)
    assert many - few < 100  # 20 (HTTP/1.1) and 28 (HTTP/2) objects per connection before


def test_requests_the_server_resets_leave_no_reference_cycles(target: TargetProcess) -> None:
    """The reset reached the request through its future, and the exception's frames held that
    future: a cycle per failed request."""
    url = target.http_url + "/reset/1"
    few = _cycles_on_the_engines_loop(url, 100)
    many = _cycles_on_the_engines_loop(url, 400)
    assert many - few < 100  # 29 objects per reset request before
