"""The console checks `--threshold` on the live numbers each second, as `loadscope run` does:
the dashboard shows each threshold's state and when it first failed, and with
`--abort-on-fail` a failing threshold stops the run (issue 21)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pexpect
import pytest

from loadscope.engine import Abort, Command, Stop
from loadscope.engine.target import TargetProcess
from loadscope.tui.app import ConsoleOptions, LoadscopeApp
from loadscope.tui.cli._console import report_renderer
from loadscope.tui.cli._plan import RunPlan, parse_plan
from loadscope.tui.cli._run import live_check
from loadscope.tui.controller import ScriptedController
from loadscope.tui.screens.summary import SummaryScreen
from loadscope.tui.widgets.thresholds import ThresholdsRow

from .cli_support import wait_for
from .fake_snapshots import make_snapshot
from .helpers import until
from .reports import validated
from .test_console_e2e import spawn

URL = "http://127.0.0.1:8080/"


class StoppingController(ScriptedController):
    """Stop leaves the run stopping (in-flight iterations go on); only Abort ends it."""

    def send(self, command: Command) -> None:
        if isinstance(command, Stop):
            self.calls.append(("stop", ()))
            self._snapshots = iter(
                [replace(self.snapshot() or make_snapshot(30), state="stopping")]
            )
            return
        super().send(Stop() if isinstance(command, Abort) else command)
        if isinstance(command, Abort):
            self.calls[-1] = ("abort", ())


def console_plan(*flags: str) -> RunPlan:
    plan = parse_plan(["console", URL, *flags])
    assert isinstance(plan, RunPlan)
    return plan


def live_console(plan: RunPlan, tmp_path: Path) -> tuple[LoadscopeApp, ScriptedController]:
    """The console as `loadscope console` builds it for `plan`, over prepared snapshots."""
    snapshot = make_snapshot(30)
    controller = StoppingController([snapshot], final=replace(snapshot, state="stopped"))
    live = live_check(plan)
    render = report_renderer(plan.load, plan.thresholds, live.thresholds)
    options = ConsoleOptions(label="test", save_dir=tmp_path, concurrency=snapshot.concurrency)
    app = LoadscopeApp(controller, options, render, poll_seconds=0.05, live=live)
    return app, controller


def row_text(app: LoadscopeApp) -> str:
    return str(app.screen.query_one(ThresholdsRow).render())


def test_the_console_takes_abort_on_fail() -> None:
    plan = console_plan("--threshold", "req_p99 < 0", "--abort-on-fail", "--abort-grace", "3s")
    assert plan.abort is not None and plan.abort.grace == 3.0


async def test_the_dashboard_shows_each_threshold_and_when_it_first_failed(
    tmp_path: Path,
) -> None:
    plan = console_plan("--threshold", "req_p99 < 0", "--threshold", "req_total >= 0")
    app, controller = live_console(plan, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "✗ req_p99 < 0" in row_text(app))
        text = row_text(app)
        assert "failing, first at 30.0s" in text  # the snapshot's elapsed_s
        assert "✓ req_total >= 0" in text
        await pilot.pause(1.5)  # another check or two: without --abort-on-fail, it goes on
        assert not [name for name, _ in controller.calls if name in ("stop", "abort")]


async def test_abort_on_fail_stops_the_console_and_the_reports_say_why(tmp_path: Path) -> None:
    plan = console_plan(
        "--threshold", "req_p99 < 0", "--threshold", "req_total >= 0", "--abort-on-fail"
    )
    app, controller = live_console(plan, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        banner = str(app.screen.query_one("#summary-banner").render())
        report_text = str(app.screen.query_one("#summary-report").render())
    names = [name for name, _ in controller.calls]
    assert names[:2] == ["stop", "abort"]  # stopped, then what still ran cut a second later
    assert "stopped by a threshold" in banner and "req_p99 < 0 at 30.0s" in banner
    assert "--abort-on-fail: req_p99 < 0 stopped the run at 30.0s" in report_text
    saved = json.loads(next(tmp_path.glob("loadscope-*.json")).read_text())
    assert saved["aborted_by"]["expression"] == "req_p99 < 0"
    assert saved["aborted_by"]["at_s"] == 30.0
    first = {t["expression"]: t["first_failed_at_s"] for t in saved["thresholds"]}
    assert first == {"req_p99 < 0": 30.0, "req_total >= 0": None}


async def test_abort_grace_lets_a_threshold_fail_before_it_stops_the_console(
    tmp_path: Path,
) -> None:
    plan = console_plan("--threshold", "req_p99 < 0", "--abort-on-fail", "--abort-grace", "1m")
    app, controller = live_console(plan, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "✗ req_p99 < 0" in row_text(app))
        await pilot.pause(1.5)
        assert not [name for name, _ in controller.calls if name in ("stop", "abort")]


async def test_no_thresholds_no_row(tmp_path: Path) -> None:
    app, _ = live_console(console_plan(), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        assert not app.screen.query_one(ThresholdsRow).display


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_the_real_console_stops_on_a_failing_threshold(
    target: TargetProcess, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    child = spawn(
        ["console", target.http_url, "-c", "2", "-d", "60s", "--out", str(out),
         "--threshold", "req_p99 < 0", "--abort-on-fail"],
        tmp_path,
    )  # fmt: skip
    try:
        child.expect("stopped by a threshold", timeout=30)
        wait_for(out.exists)
        child.send("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 1
    assert "--abort-on-fail stopped the run at" in child.before
    report = validated(json.loads(out.read_text()))
    assert report["aborted_by"]["expression"] == "req_p99 < 0"
    assert report["duration_s"] < 30
