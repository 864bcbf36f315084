"""--workers: one session over several engine processes, checked against the target's counters."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadscope.engine import Histogram, HistogramData, SessionConfig, Snapshot, Stage
from loadscope.engine.control import (
    LocalPool,
    ScenarioSpec,
    WorkerController,
    split_count,
    worker_config,
)
from loadscope.engine.metrics import WorkerPart, merge_histograms, merge_snapshots
from loadscope.engine.target import TargetProcess

from . import workers_checks as checks
from .cli_support import loadscope, start, wait_for
from .fake_snapshots import make_snapshot
from .reports import report_of, validated


@pytest.fixture(scope="module")
def own_target() -> Iterator[TargetProcess]:
    """A target of this module's own, so its record of users holds only these runs'."""
    with TargetProcess() as server:
        yield server


@pytest.mark.slow
def test_two_workers_count_exactly_what_the_target_saw(own_target: TargetProcess) -> None:
    checks.check_cli_counts(own_target)


@pytest.mark.slow
def test_live_concurrency_reaches_both_workers(own_target: TargetProcess) -> None:
    checks.check_live_concurrency(own_target, LocalPool())


@pytest.mark.slow
def test_runn_i_is_unique_across_workers(own_target: TargetProcess, tmp_path: Path) -> None:
    checks.check_runn_i_unique(own_target, LocalPool(), tmp_path)


@pytest.mark.slow
def test_pause_resume_and_nothing_left_open(own_target: TargetProcess) -> None:
    checks.check_pause_resume_and_clean_stop(own_target, LocalPool())


def test_the_load_is_split_evenly() -> None:
    assert split_count(51, 2) == [26, 25]
    assert split_count(1, 3) == [1, 0, 0]
    config = SessionConfig(
        concurrency=51,
        max_iterations_per_second=100.0,
        max_iterations=1001,
        stages=(Stage(10, 51), Stage(5, 0)),
    )
    shares = [worker_config(config, k, 2) for k in range(2)]
    assert [s.concurrency for s in shares] == [26, 25]
    assert [s.max_iterations for s in shares] == [501, 500]
    assert sum(s.max_iterations_per_second or 0 for s in shares) == 100.0
    assert [[stage.target for stage in s.stages] for s in shares] == [[26, 0], [25, 0]]
    assert all(s.kernel_view for s in shares)  # each counts its own sockets; views add up
    assert not any(s.detectors for s in shares)  # the merged data is judged, once
    assert sum(s.effective_max_vus() for s in shares) == config.effective_max_vus()
    one_vu = [worker_config(SessionConfig(concurrency=1, max_iterations=2), k, 2) for k in (0, 1)]
    assert [s.max_iterations for s in one_vu] == [2, 0]  # the worker without a VU runs none
    open_model = SessionConfig(rate=300.0, max_vus=9)
    rates = [worker_config(open_model, k, 3) for k in range(3)]
    assert [r.rate for r in rates] == [100.0, 100.0, 100.0]
    assert [r.max_vus for r in rates] == [3, 3, 3]


@pytest.mark.slow
def test_bad_worker_flags_are_one_line_and_exit_2(own_target: TargetProcess) -> None:
    for flags, expected in (
        (("--workers", "zero"), "--workers: 'zero' is not a number or auto"),
        (("--workers", "0"), "--workers must be 1 or more"),
        (("--cluster", "mesos"), "is not local, ray or ray://HOST:PORT"),
    ):
        result = loadscope("run", f"{own_target.http_url}/", "-d", "1s", *flags)
        assert result.code == 2
        assert expected in result.error_line()


@pytest.mark.slow
async def test_the_console_drives_workers_and_shows_a_row_per_worker(
    own_target: TargetProcess, tmp_path: Path
) -> None:
    from loadscope.tui.app import ConsoleOptions, LoadscopeApp
    from loadscope.tui.widgets.workers import WorkersRow

    from .test_console import render_stub, until

    control = WorkerController(
        ScenarioSpec(url=f"{own_target.http_url}/"),
        SessionConfig(concurrency=4),
        workers=2,
        push_interval=0.2,
    )
    options = ConsoleOptions(label="workers", save_dir=tmp_path, concurrency=4)
    app = LoadscopeApp(control, options, render_stub, poll_seconds=0.2)
    control.start()
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(
                pilot,
                lambda: app.snapshot is not None and app.snapshot.requests_total > 0,
                timeout=checks.START_TIMEOUT,
            )
            await pilot.press("plus", "plus")  # 4 -> 6 VUs: 3 + 3
            await until(
                pilot,
                lambda: [w.concurrency for w in app.snapshot.workers] == [3, 3],
                timeout=checks.WAIT,
            )
            await until(
                pilot, lambda: "2 workers" in app.screen.query_one(WorkersRow).render().plain
            )
            row = app.screen.query_one(WorkersRow).render().plain
            assert "2 workers (local)" in row
            assert "w1 " in row and "w2 " in row and "% cpu" in row
    finally:
        checks.stop(control)


def test_merged_latency_is_that_of_every_request_not_an_average() -> None:
    rng = random.Random(14)
    fast, slow, everything = Histogram(), Histogram(), Histogram()
    for histogram, low, high in ((fast, 200, 5_000), (slow, 40_000, 900_000)):
        for _ in range(5_000):
            value = rng.randint(low, high)
            histogram.record(value)
            everything.record(value)
    merged = merge_histograms([HistogramData.of(fast), HistogramData.of(slow)])
    assert merged.nonzero() == everything.nonzero()
    assert (merged.n, merged.min, merged.max, merged.total) == (
        everything.n,
        everything.min,
        everything.max,
        everything.total,
    )
    assert merged.percentiles((50, 99)) == everything.percentiles((50, 99))


def test_merged_snapshots_add_up_second_by_second() -> None:
    one, two = make_snapshot(30, concurrency=10), make_snapshot(30, concurrency=4, churn=True)
    merged = merge_snapshots([WorkerPart(1, "a", one), WorkerPart(2, "b", two)], cluster="local")
    assert merged.requests_total == one.requests_total + two.requests_total
    assert merged.concurrency == 14
    assert merged.histogram_total.count == one.histogram_total.count + two.histogram_total.count
    assert [p.opened for p in merged.timeline] == [
        p.opened + q.opened for p, q in zip(one.timeline, two.timeline, strict=True)
    ]
    assert [p.rps for p in merged.timeline] == [
        round(p.rps + q.rps, 1) for p, q in zip(one.timeline, two.timeline, strict=True)
    ]
    assert merged.connections.opened_total == (
        one.connections.opened_total + two.connections.opened_total
    )
    assert [(w.worker, w.node) for w in merged.workers] == [(1, "a"), (2, "b")]
    assert report_of(merged)["per_worker"][1]["requests_total"] == two.requests_total


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_and_the_report_is_written(
    own_target: TargetProcess, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    before = own_target.requests()
    process = start(
        "run", f"{own_target.http_url}/delay/5", "--workers", "2", "-c", "4", "-d", "60s",
        "--out", str(out),
    )  # fmt: skip
    wait_for(lambda: own_target.requests() > before + 20, timeout=checks.START_TIMEOUT)
    process.interrupt()
    result = process.finish(timeout=checks.WAIT)
    assert result.code == 130
    report = validated(json.loads(out.read_text()))
    assert report["interrupted"] is True and report["workers"] == 2
    assert own_target.wait_until(lambda t: t.open_connections() == 0, timeout=checks.WAIT)
    assert report["requests_total"] == own_target.requests() - before


@pytest.mark.slow
def test_loadt_splits_its_rate_cap_over_workers(own_target: TargetProcess, tmp_path: Path) -> None:
    book = tmp_path / "record.yml"
    book.write_text(checks.RUNN_I_BOOK)
    result = loadscope(
        "loadt", str(book), "--workers", "2", "--load-concurrent", "4", "--max-rps", "40",
        "--duration", "3sec", "--warm-up", "0sec", "--format", "json",
        env={"TARGET": own_target.http_url},
        timeout=checks.START_TIMEOUT + checks.WAIT,
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()["loadscope"]
    assert report["workers"] == 2
    # 20 iterations a second each: together never more than the global cap of 40/s
    assert report["iterations_total"] <= 40 * 3 + 2
    assert all(row["requests_total"] > 0 for row in report["per_worker"])


@pytest.mark.slow
def test_the_text_report_has_a_line_per_worker() -> None:
    from loadscope.tui.cli._text import worker_lines

    report = {
        "workers": 2,
        "cluster": "ray",
        "per_worker": [
            {
                "worker": 1,
                "node": "alpha",
                "requests_total": 1200,
                "requests_per_second": 600.0,
                "cpu_percent": 41.0,
                "connections_opened": 25,
            },
            {
                "worker": 2,
                "node": "beta",
                "requests_total": 800,
                "requests_per_second": 400.0,
                "cpu_percent": 38.0,
                "connections_opened": 25,
            },
        ],
    }
    lines = worker_lines(report)
    assert lines[0] == "Workers (2, ray)"
    assert "#1 alpha" in lines[1] and "1,200 requests" in lines[1] and "CPU 41%" in lines[1]
    assert "#2 beta" in lines[2] and "connections opened 25" in lines[2]
    assert worker_lines({**report, "workers": 1, "per_worker": report["per_worker"][:1]}) == []


@pytest.mark.slow
def test_each_worker_has_a_core_of_its_own_when_there_are_enough(
    own_target: TargetProcess,
) -> None:
    import os

    cores = sorted(os.sched_getaffinity(0))
    assert LocalPool().cores_for(len(cores) + 1) == [None] * (len(cores) + 1)  # too few cores
    assert LocalPool(pin=False).cores_for(2) == [None, None]
    if len(cores) < 2:
        pytest.skip("one core: nothing to pin to")
    assert LocalPool().cores_for(2) == cores[:2]
    control = checks.controller(
        ScenarioSpec(url=f"{own_target.http_url}/"), SessionConfig(concurrency=2), LocalPool()
    )
    try:
        pids = [handle._process.pid for handle in control.handles]  # type: ignore[attr-defined]
        assert [os.sched_getaffinity(pid) for pid in pids] == [{cores[0]}, {cores[1]}]
    finally:
        checks.stop(control)


def test_the_merged_start_event_states_the_whole_session() -> None:
    import dataclasses

    from loadscope.engine import EventKind, EventRecord

    def started(vus: int) -> Snapshot:
        message = f"started: {vus} VUs, reuse shared, HTTP/1.1"
        event = EventRecord(0.0, EventKind.START, message, after=vus)
        return dataclasses.replace(make_snapshot(5, concurrency=vus), events=(event,))

    merged = merge_snapshots(
        [WorkerPart(1, "a", started(26)), WorkerPart(2, "b", started(25))], cluster="local"
    )
    [start] = [e for e in merged.events if e.kind == EventKind.START]
    assert start.message == "started: 51 VUs, reuse shared, HTTP/1.1 (over 2 workers)"


@pytest.mark.slow
def test_iterations_with_fewer_vus_than_workers_all_run(own_target: TargetProcess) -> None:
    answered = own_target.requests()
    result = loadscope(
        "run", f"{own_target.http_url}/", "--workers", "2", "-c", "1", "--iterations", "3",
        "--format", "json", timeout=checks.START_TIMEOUT + checks.WAIT,
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    assert report["iterations_total"] == 3 == own_target.requests() - answered
