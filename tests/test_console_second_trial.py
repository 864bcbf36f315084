"""What a second new-user trial found in the console: a run that ended on its own reported as
interrupted after `r`, the console's JSON without `interrupted`, panels drawn from different
snapshots, and stages' runs that named the wrong starting VUs, lost a key's change without a
word and showed no total time in the header."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path

import pytest

from loadscope.engine import EventKind, Session, SessionConfig, Snapshot, Stage, UrlScenario
from loadscope.engine.target import TargetProcess
from loadscope.tui.app import LoadscopeApp
from loadscope.tui.cli._console import console_options, report_renderer
from loadscope.tui.cli._outcome import Outcome
from loadscope.tui.cli._plan import RunPlan, parse_plan
from loadscope.tui.cli._run import finish, live_check
from loadscope.tui.controller import ScriptedController
from loadscope.tui.describe import stopped_early
from loadscope.tui.format import compact
from loadscope.tui.screens.help import HelpScreen
from loadscope.tui.screens.summary import SummaryScreen
from loadscope.tui.widgets.header import SessionHeader
from loadscope.tui.widgets.text_view import TextView

from .fake_snapshots import make_snapshot
from .helpers import until
from .reports import validated
from .test_console_truths import plain

URL = "http://127.0.0.1:8080/"
WAIT = 60.0


def console_plan(*flags: str, command: str = "console") -> RunPlan:
    plan = parse_plan([command, URL, *flags])
    assert isinstance(plan, RunPlan)
    return plan


def console_for(
    plan: RunPlan, snapshots: list[Snapshot], tmp_path: Path
) -> tuple[LoadscopeApp, ScriptedController]:
    """The console as `loadscope console` builds it for `plan`, over prepared snapshots, its
    `--out` in `tmp_path`."""
    controller = ScriptedController(snapshots)
    live = live_check(plan)
    render = report_renderer(plan.load, plan.thresholds, live.thresholds)
    options = dataclasses.replace(
        console_options(plan, "test"), summary_json=str(tmp_path / "out.json"), save_dir=tmp_path
    )
    return LoadscopeApp(controller, options, render, poll_seconds=0.05), controller


def summary_shown(app: LoadscopeApp) -> bool:
    screen = app.screen
    return isinstance(screen, SummaryScreen) and bool(screen.query("#summary-report"))


def summary_text(app: LoadscopeApp) -> str:
    return str(app.screen.query_one("#summary-report").render())


def reset_at_3s_of_8(state: str = "running") -> Snapshot:
    """An 8 s run (`-d 8s`) whose statistics were reset by hand 3.3 s in."""
    return dataclasses.replace(
        make_snapshot(4, concurrency=2, state=state),
        elapsed_s=4.7,
        session_s=8.0 if state == "stopped" else 4.0,
        stats_since="reset",
    )


# -- 1. a reset is not an interruption --------------------------------------------------------
def test_a_run_reset_by_hand_that_ran_its_planned_time_did_not_stop_early() -> None:
    config = SessionConfig(concurrency=2, duration=8.0)
    assert not stopped_early(config, reset_at_3s_of_8("stopped"), interrupted=False)
    cut = dataclasses.replace(reset_at_3s_of_8("stopped"), session_s=5.0)
    assert stopped_early(config, cut, interrupted=False)  # cut at 5 s of 8: early, reset or not


def test_after_a_warm_up_the_plan_counts_from_its_end() -> None:
    config = SessionConfig(concurrency=2, duration=8.0, warm_up=2.0)
    ran = dataclasses.replace(reset_at_3s_of_8("stopped"), session_s=10.0, warm_up_s=2.0)
    assert not stopped_early(config, ran, interrupted=False)
    cut = dataclasses.replace(ran, session_s=8.0)  # 6 s measured of 8
    assert stopped_early(config, cut, interrupted=False)


async def test_the_console_reports_a_run_reset_by_hand_as_run_to_its_end(tmp_path: Path) -> None:
    plan = console_plan("-c", "2", "-d", "8s")
    app, controller = console_for(plan, [reset_at_3s_of_8()], tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        controller.final = reset_at_3s_of_8("stopped")  # the engine ends the run on its own
        await until(pilot, lambda: summary_shown(app))
        text = summary_text(app)
    duration_line = next(line for line in text.splitlines() if line.startswith("Duration"))
    assert duration_line.endswith(": 8s (measured 4.7s since the reset)"), duration_line
    assert "interrupted" not in text
    report = validated(json.loads((tmp_path / "out.json").read_text()))
    assert report["stopped_early"] is False and report["interrupted"] is False
    assert report["planned_duration_s"] == 8.0 and report["duration_s"] == 4.7


@pytest.mark.slow
async def test_a_session_reset_halfway_runs_its_duration_and_is_not_early(
    target: TargetProcess,
) -> None:
    config = SessionConfig(concurrency=2, duration=2.0)
    session = Session(config, UrlScenario(f"{target.http_url}/"))
    running = asyncio.create_task(session.run())
    deadline = time.monotonic() + WAIT
    while session.session_elapsed() < 1.0 or not session.metrics.requests:
        assert time.monotonic() < deadline, "the session never got going"
        await asyncio.sleep(0.05)
    session.reset_stats()
    await asyncio.wait_for(running, WAIT)
    final = session.snapshot()
    assert final.stats_since == "reset" and final.elapsed_s < 1.5
    assert not stopped_early(config, final, interrupted=False)


# -- 2. the console's JSON says whether the user cut the run, as `run`'s does -----------------
def test_the_console_json_has_the_same_keys_as_run_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = dataclasses.replace(make_snapshot(8, concurrency=2, state="stopped"), elapsed_s=8.0)
    out = tmp_path / "run.json"
    run = console_plan("-c", "2", "-d", "8s", "--out", str(out), command="run")
    finish(run, Outcome(snapshot))
    capsys.readouterr()
    run_report = validated(json.loads(out.read_text()))
    plan = console_plan("-c", "2", "-d", "8s")
    live = live_check(plan).thresholds
    _, console_report = report_renderer(plan.load, plan.thresholds, live)(snapshot, False)
    assert sorted(validated(console_report)) == sorted(run_report)
    assert console_report["interrupted"] is False and run_report["interrupted"] is False
    _, without_live = report_renderer(plan.load)(snapshot, False)
    assert sorted(without_live) == sorted(run_report)


async def test_the_console_json_says_a_run_stopped_with_q_was_interrupted(
    tmp_path: Path,
) -> None:
    plan = console_plan("-c", "2", "-d", "8s")
    running = dataclasses.replace(make_snapshot(4, concurrency=2), elapsed_s=4.0, session_s=4.0)
    app, _ = console_for(plan, [running], tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        await pilot.press("s")  # saved while it runs: not (yet) interrupted
        await until(pilot, lambda: any(tmp_path.glob("loadscope-*.json")))
        saved_running = json.loads(next(tmp_path.glob("loadscope-*.json")).read_text())
        await pilot.press("q")
        await until(pilot, lambda: summary_shown(app))
        text = summary_text(app)
    assert saved_running["interrupted"] is False
    report = validated(json.loads((tmp_path / "out.json").read_text()))
    assert report["interrupted"] is True and report["stopped_early"] is True
    assert "(interrupted; planned 8s)" in text
    app.rewrite_summary_on_exit()  # written again on exit: still interrupted
    assert json.loads((tmp_path / "out.json").read_text())["interrupted"] is True


# -- 3. one snapshot per screen ---------------------------------------------------------------
def panel_text(app: LoadscopeApp, selector: str) -> str:
    view = app.screen.query_one(selector, TextView)
    return plain(view.render())


async def test_every_panel_shows_the_snapshot_the_throughput_totals_show(tmp_path: Path) -> None:
    first = make_snapshot(30, concurrency=5)
    app, controller = console_for(console_plan("-c", "5"), [first], tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(
            pilot,
            lambda: f"{first.requests_total:,} requests" in panel_text(app, "#throughput-now"),
        )
        # The same second of data (the charts do not move), 600,000 requests later.
        later = dataclasses.replace(
            first,
            requests_total=first.requests_total + 600_000,
            latency=dataclasses.replace(first.latency, count=first.latency.count + 600_000),
            steps=tuple(
                dataclasses.replace(step, requests=step.requests + 600_000) for step in first.steps
            ),
        )
        controller.push(later)
        await until(
            pilot,
            lambda: f"{later.requests_total:,} requests" in panel_text(app, "#throughput-now"),
        )
        await pilot.pause()
        latency = panel_text(app, "#latency-table")
        steps = panel_text(app, "#steps-table")
    assert f"{later.latency.count:,}" in latency, latency
    for step in later.steps:
        assert f" {compact(step.requests)} " in steps, steps


# -- 4. stages: the start, the keys, the header -----------------------------------------------
async def test_the_start_event_names_the_vus_the_stages_start_from() -> None:
    stages = (Stage(4.0, 5), Stage(4.0, 5))
    session = Session(
        SessionConfig(concurrency=10, stages=stages), UrlScenario("http://127.0.0.1:9/")
    )
    await session.start()
    try:
        start = session.snapshot().events[0]
    finally:
        await session.shutdown(0)
    assert start.kind == EventKind.START and start.after == 0
    assert start.message.startswith("started: 0 VUs, then the stages, "), start.message


def staged_snapshot() -> Snapshot:
    """3 s into `--stages 4s:5,4s:5`: no -d, so no duration in the snapshot."""
    return dataclasses.replace(
        make_snapshot(3, concurrency=4), duration_s=None, session_s=3.2, elapsed_s=3.2
    )


def header_text(app: LoadscopeApp) -> str:
    return app.screen.query_one(SessionHeader).render().plain


async def test_a_stages_run_shows_its_total_time_in_the_header(tmp_path: Path) -> None:
    plan = console_plan("--stages", "4s:5,4s:5")
    app, _ = console_for(plan, [staged_snapshot()], tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        await pilot.pause()
        assert " 0:03/0:08 " in header_text(app), header_text(app)


async def test_level_keys_during_stages_say_the_stages_set_the_vus(tmp_path: Path) -> None:
    plan = console_plan("--stages", "4s:5,4s:5")
    app, controller = console_for(plan, [staged_snapshot()], tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        for key in ("]", "+", "-", "["):
            await pilot.press(key)
        await pilot.pause()
        notices = [n.message for n in app._notifications]
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_rows = dict(app.screen.key_rows())
    assert not [name for name, _ in controller.calls if name == "set_concurrency"]
    assert notices == ["--stages set the VUs in this run: + - ] [ c change nothing"]
    assert "the stages set the VUs" in help_rows["--stages"]


async def test_q_while_the_run_ends_on_its_own_is_not_an_interruption(tmp_path: Path) -> None:
    plan = console_plan("-c", "2", "-d", "8s")
    ending = dataclasses.replace(make_snapshot(8, concurrency=2, state="stopping"), elapsed_s=8.0)
    app, _ = console_for(plan, [ending], tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        await pilot.press("q")
        await until(pilot, lambda: summary_shown(app))
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["interrupted"] is False and report["stopped_early"] is False
