"""The console driven by Textual pilots: every binding, against a real engine process and the
built-in target (and a scripted controller where only the drawing matters)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from loadscope.engine import (
    EventKind,
    EventRecord,
    Session,
    SessionConfig,
    Snapshot,
    UrlScenario,
)
from loadscope.engine.control._process import EngineProcess
from loadscope.engine.control._spec import ScenarioSpec
from loadscope.engine.target import TargetProcess
from loadscope.tui.app import ConsoleOptions, LoadscopeApp
from loadscope.tui.controller import ScriptedController
from loadscope.tui.screens.dashboard import DashboardScreen
from loadscope.tui.screens.help import HelpScreen
from loadscope.tui.screens.summary import SummaryScreen
from loadscope.tui.screens.value_dialog import ValueDialog, parse_value
from loadscope.tui.widgets.header import SessionHeader

from .fake_snapshots import make_snapshot
from .helpers import until
from .reports import report_of, validated

SIZE = (120, 40)


def render_stub(snapshot: Snapshot, interrupted: bool = False) -> tuple[str, dict[str, Any]]:
    """A short text, and the real JSON report."""
    return f"report: {snapshot.requests_total} requests", report_of(snapshot)


@asynccontextmanager
async def console(
    target: TargetProcess, tmp_path: Path, *, concurrency: int = 5, rate: float | None = None
) -> AsyncIterator[tuple[LoadscopeApp, Pilot, EngineProcess]]:
    config = SessionConfig(concurrency=concurrency, rate=rate, max_vus=50 if rate else None)
    engine = EngineProcess(ScenarioSpec(url=target.http_url + "/json"), config, push_interval=0.2)
    options = ConsoleOptions(
        label="test",
        summary_json=str(tmp_path / "summary.json"),
        save_dir=tmp_path,
        open_model=rate is not None,
        concurrency=concurrency,
        rate=rate or 0.0,
    )
    app = LoadscopeApp(engine, options, render_stub, poll_seconds=0.2)
    engine.start()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.snapshot.requests_total > 0)
            yield app, pilot, engine
    finally:
        if not engine.finished:
            engine.stop()
            engine.wait_final(10)
        engine.close()


def scripted_demo_app() -> LoadscopeApp:
    """The console over one prepared snapshot: for keys that need no engine."""
    return LoadscopeApp(
        ScriptedController([make_snapshot(30)]),
        ConsoleOptions(label="demo"),
        render_stub,
        poll_seconds=0.2,
    )


def header_text(app: LoadscopeApp) -> str:
    return app.screen.query_one(SessionHeader).render().plain


def scripted_console(
    *, concurrency: int = 5, rate: float | None = None, save_dir: Path = Path("/nonexistent")
) -> tuple[LoadscopeApp, ScriptedController]:
    """The console over a controller that records each control it is given: for the keys, whose
    job is to call the right control with the right value (the engine's side has its tests)."""
    snapshot = make_snapshot(30, concurrency=concurrency)
    controller = ScriptedController([snapshot], final=replace(snapshot, state="stopped"))
    options = ConsoleOptions(
        label="test",
        summary_json=str(save_dir / "summary.json"),
        save_dir=save_dir,
        open_model=rate is not None,
        concurrency=concurrency,
        rate=rate or 0.0,
    )
    return LoadscopeApp(controller, options, render_stub, poll_seconds=0.05), controller


def controls(controller: ScriptedController, *names: str) -> list[tuple[object, ...]]:
    """The arguments of each call to the named controls, in order."""
    return [args for name, args in controller.calls if name in names]


async def started(app: LoadscopeApp, pilot: Pilot) -> None:
    await until(pilot, lambda: app.snapshot is not None)


async def test_plus_five_times_from_five_gives_ten() -> None:
    app, controller = scripted_console(concurrency=5)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press(*["plus"] * 5)
    assert controls(controller, "set_concurrency") == [(6,), (7,), (8,), (9,), (10,)]


async def test_minus_and_brackets_change_concurrency() -> None:
    app, controller = scripted_console(concurrency=12)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("minus", "minus", "right_square_bracket")
        await pilot.press(*["left_square_bracket"] * 3, "plus")
    assert controls(controller, "set_concurrency") == [
        (11,), (10,), (20,), (10,), (0,), (0,), (1,),
    ]  # fmt: skip


@pytest.mark.slow
async def test_c_sets_an_exact_concurrency_and_refuses_bad_input() -> None:
    app, controller = scripted_console(concurrency=5)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ValueDialog))
        await pilot.press(*["backspace"] * 4, *"abc", "enter")
        assert isinstance(app.screen, ValueDialog)
        assert "not a whole number" in str(app.screen.query_one("#dialog-error").render())
        assert controls(controller, "set_concurrency") == []
        await pilot.press(*["backspace"] * 4, "2", "5", "enter")
        await until(pilot, lambda: not isinstance(app.screen, ValueDialog))
    assert controls(controller, "set_concurrency") == [(25,)]


@pytest.mark.slow
async def test_c_sets_the_rate_in_open_mode() -> None:
    app, controller = scripted_console(rate=50)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ValueDialog))
        await pilot.press(*["backspace"] * 4, "8", "0", "enter")
        await until(pilot, lambda: not isinstance(app.screen, ValueDialog))
        await pilot.press("plus")
    assert controls(controller, "set_rate") == [(80,), (81,)]
    assert controls(controller, "set_concurrency") == []


@pytest.mark.parametrize(
    ("shown", "asked"),
    [("shared", "per-vu"), ("per-vu", "per-iteration"), ("per-iteration", "none"),
     ("none", "shared")],
)  # fmt: skip
async def test_m_asks_for_the_reuse_mode_after_the_one_in_effect(shown: str, asked: str) -> None:
    snapshot = make_snapshot(30, reuse_mode=shown)
    controller = ScriptedController([snapshot])
    app = LoadscopeApp(controller, ConsoleOptions(label="test"), render_stub, poll_seconds=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("m")
    assert controls(controller, "set_reuse_mode") == [(asked,)]


async def test_space_pauses_a_running_engine_and_resumes_a_paused_one() -> None:
    for state, control in (("running", "pause"), ("paused", "resume")):
        snapshot = make_snapshot(30, state=state)
        controller = ScriptedController([snapshot])
        app = LoadscopeApp(controller, ConsoleOptions(label="t"), render_stub, poll_seconds=0.05)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda app=app: app.snapshot is not None)
            await pilot.press("space")
        assert [name for name, _ in controller.calls if name in ("pause", "resume")] == [control]


async def test_r_asks_for_a_reset_and_the_run_goes_on() -> None:
    app, controller = scripted_console()
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("r")
        assert not controller.finished
    assert [name for name, _ in controller.calls if name != "close"] == ["reset_stats"]


async def test_s_saves_report_text_and_screenshot(tmp_path: Path) -> None:
    app, _controller = scripted_console(save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("s")
        await until(pilot, lambda: len(list(tmp_path.glob("loadscope-*"))) == 4)
    suffixes = sorted(p.suffix for p in tmp_path.glob("loadscope-*"))
    assert suffixes == [".html", ".json", ".svg", ".txt"]
    assert "<h2>Summary" in next(tmp_path.glob("loadscope-*.html")).read_text()
    report = validated(json.loads(next(tmp_path.glob("loadscope-*.json")).read_text()))
    assert report["requests_total"] > 0
    assert "<svg" in next(tmp_path.glob("loadscope-*.svg")).read_text()[:500]


async def test_q_stops_shows_the_summary_and_q_again_exits(tmp_path: Path) -> None:
    app, controller = scripted_console(concurrency=6, save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert controls(controller, "stop") == [()]
        summary = validated(json.loads((tmp_path / "summary.json").read_text()))
        assert summary["concurrency"] == 6  # the final snapshot's report
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


# -- keys whose effect on a real engine is what is tested ---------------------------------------
@pytest.mark.slow
async def test_space_pauses_and_nothing_is_sent_while_paused(
    target: TargetProcess, tmp_path: Path
) -> None:
    async with console(target, tmp_path) as (app, pilot, _engine):
        await pilot.press("space")
        await until(pilot, lambda: app.snapshot.state == "paused" and app.snapshot.busy_vus == 0)
        before, paused_at = app.snapshot.requests_total, app.snapshot.session_s
        # A second of the engine's own clock while paused: nothing may go out meanwhile.
        await until(pilot, lambda: app.snapshot.session_s >= paused_at + 1.0)
        assert app.snapshot.requests_total == before
        assert "PAUSED" in header_text(app)
        await pilot.press("space")
        await until(pilot, lambda: app.snapshot.state == "running")
        await until(pilot, lambda: app.snapshot.requests_total > before)


@pytest.mark.slow
async def test_m_cycles_reuse_modes_and_h_toggles_http(
    target: TargetProcess, tmp_path: Path
) -> None:
    async with console(target, tmp_path) as (app, pilot, _engine):
        # The expected modes are known before any key is pressed: an engine poll landing during
        # a press must not move what the test waits for.
        for expected in ("per-vu", "per-iteration", "none", "shared"):
            await pilot.press("m")
            await until(pilot, lambda expected=expected: app.snapshot.reuse_mode == expected)
        # h: auto -> HTTP/1.1 -> HTTP/2 (h2c on http://) -> auto
        await pilot.press("h")
        await until(pilot, lambda: app.snapshot.http_version == "http1")
        await until(pilot, lambda: app.snapshot.http_version_in_use == "HTTP/1.1")
        await pilot.press("h")
        await until(pilot, lambda: app.snapshot.http_version == "http2")
        await until(pilot, lambda: app.snapshot.http_version_in_use == "HTTP/2")
        await pilot.press("h")
        await until(pilot, lambda: app.snapshot.http_version == "auto")
        await until(pilot, lambda: app.snapshot.http_version_in_use == "HTTP/1.1")


@pytest.mark.slow
async def test_r_resets_statistics_and_the_run_goes_on(
    target: TargetProcess, tmp_path: Path
) -> None:
    served = target.requests()
    async with console(target, tmp_path) as (app, pilot, _engine):
        await until(pilot, lambda: app.snapshot.elapsed_s > 1.5)
        before = app.snapshot
        await pilot.press("r")
        await until(pilot, lambda: any(e.kind == "reset" for e in app.snapshot.events))
        after = app.snapshot
        # The statistics' clock restarted at the reset, which came after `before` was taken
        # (however long the console took to show it on a busy machine).
        reset_at = after.session_s - after.elapsed_s
        assert reset_at >= before.session_s - 0.01
        # What was counted before the reset is not counted again after it.
        assert before.requests_total + after.requests_total <= target.requests() - served
        assert after.state == "running"
        await until(pilot, lambda: app.snapshot.requests_total > after.requests_total)


@pytest.mark.slow
async def test_question_mark_opens_help_with_every_binding() -> None:
    app = scripted_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = " ".join(key for key, _ in app.screen.key_rows())
        for binding in app.BINDINGS:
            if binding.key != "ctrl+c":  # every key, "-" and "[" within "+ -" and "] ["
                assert (binding.key_display or binding.key) in keys
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


@pytest.mark.slow
async def test_click_zooms_a_panel_and_escape_unzooms() -> None:
    app = scripted_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.click("#connections")
        assert app.screen.maximized is app.screen.query_one("#connections")
        await pilot.press("escape")
        assert app.screen.maximized is None


@pytest.mark.slow
async def test_z_zooms_the_focused_panel_and_the_footer_says_how_to_unzoom() -> None:
    app = scripted_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        screen = app.screen
        assert not screen.check_action("minimize", ())  # no "unzoom" until something is zoomed
        await pilot.press("z")
        assert screen.maximized is screen.query_one("#connections")  # nothing focused yet
        assert screen.focused is screen.maximized  # so its `o` works at once
        assert screen.check_action("minimize", ())
        await pilot.press("z")
        assert screen.maximized is None
        screen.query_one("#latency").focus()
        await pilot.press("z")
        assert screen.maximized is screen.query_one("#latency")
        await pilot.press("escape")
        assert screen.maximized is None


@pytest.mark.slow
async def test_scripted_controller_records_controls() -> None:
    controller = ScriptedController([make_snapshot(30, concurrency=10)])
    app = LoadscopeApp(controller, ConsoleOptions(concurrency=10), render_stub, poll_seconds=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        await pilot.press("plus", "right_square_bracket", "m", "r")
    names = [name for name, _ in controller.calls]
    assert controller.calls[:2] == [("set_concurrency", (11,)), ("set_concurrency", (21,))]
    assert "set_reuse_mode" in names and "reset_stats" in names


def test_dialog_values_are_validated() -> None:
    assert parse_value("25", integer=True) == (25, "")
    assert parse_value("2.5", integer=False) == (2.5, "")
    assert parse_value("", integer=True)[1] == "type a number"
    assert "not a whole number" in parse_value("2.5", integer=True)[1]
    assert parse_value("-3", integer=True)[1] == "must be 0 or more"
    assert parse_value("nan", integer=False)[1] == "must be 0 or more"
    assert "at most" in parse_value("10000000", integer=True)[1]


@pytest.mark.slow
async def test_a_dead_target_shows_errors_and_nothing_crashes(tmp_path: Path) -> None:
    engine = EngineProcess(
        ScenarioSpec(url="http://127.0.0.1:9/"), SessionConfig(concurrency=2), push_interval=0.1
    )
    app = LoadscopeApp(engine, ConsoleOptions(save_dir=tmp_path), render_stub, poll_seconds=0.2)
    engine.start()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.snapshot.errors_total > 0)
            assert app.snapshot.errors[0].kind == "connect_refused"
            for size in ((80, 24), SIZE):  # it redraws at each size, the errors panel too
                await pilot.resize_terminal(*size)
                await until(pilot, lambda size=size: tuple(app.screen.size) == size)
                await pilot.pause()
    finally:
        engine.stop()
        engine.wait_final(10)
        engine.close()


@pytest.mark.parametrize(
    ("event", "label"),
    [
        (EventRecord(0, EventKind.CONCURRENCY, "", before=10, after=20), "c→20"),
        (EventRecord(0, EventKind.RATE, "", before=10, after=12.5), "rate→12.5/s"),
        (EventRecord(0, EventKind.MAX_VUS, "", before=100, after=50), "max VUs→50"),
        (EventRecord(0, EventKind.STAGE, "", before=0, after=30), "stage→30"),
        (EventRecord(0, EventKind.REUSE, "", mode="per-iteration"), "reuse→per-iteration"),
        (EventRecord(0, EventKind.HTTP, "", mode="http2"), "HTTP→http2"),
        (EventRecord(0, EventKind.PHASE, "", mode="per-iteration"), "phase→per-iteration"),
        (EventRecord(0, EventKind.PAUSE, "paused: no new requests"), "pause"),
    ],
)
def test_chart_markers_name_the_new_value_from_the_events_values(
    event: EventRecord, label: str
) -> None:
    """The messages are empty: a marker never comes from parsing the text."""
    from loadscope.tui.widgets.throughput import _short

    assert _short(event) == label


async def test_a_sessions_changes_carry_the_values_the_markers_show() -> None:
    from loadscope.tui.widgets.throughput import _short

    session = Session(SessionConfig(concurrency=10), UrlScenario("http://127.0.0.1:9/"))
    session.set_concurrency(20)
    session.set_reuse_mode("per-iteration")
    session.set_http_version("http2")
    assert [_short(e) for e in session.events] == ["c→20", "reuse→per-iteration", "HTTP→http2"]
    assert (session.events[0].before, session.events[0].after) == (10, 20)


@pytest.mark.slow
async def test_after_zoom_order_and_unzoom_every_key_still_fits_the_footer_at_80_columns() -> None:
    from textual.widgets._footer import FooterKey

    app = scripted_demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app, pilot)
        screen = app.screen
        await pilot.press("z", "o")
        assert "sort_ledger" in {b.binding.action for b in screen.active_bindings.values()}
        await pilot.press("escape")
        connections = screen.query_one("#connections")
        assert not connections.check_action("sort_ledger", ())  # no ledger, so no `o`
        await until(pilot, lambda: "o" not in {key.key for key in screen.query(FooterKey)})
        await until(pilot, lambda: all(k.region.width for k in screen.query(FooterKey)))
        keys = {key.key: key for key in screen.query(FooterKey)}
        for key in ("q", "question_mark"):
            assert key in keys and keys[key].region.right <= 80, sorted(keys)


async def test_a_key_shows_the_level_it_asked_for_until_a_snapshot_has_it() -> None:
    app, controller = scripted_console(concurrency=5)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        assert "5 VUs" in header_text(app)
        await pilot.press("plus", "plus")
        await until(pilot, lambda: "5 → 7 VUs" in header_text(app))
        controller.push(make_snapshot(31, concurrency=7))
        await until(pilot, lambda: " 7 VUs" in header_text(app) and "→ 7" not in header_text(app))


async def test_the_request_count_keeps_counting_between_seconds_of_data() -> None:
    app, controller = scripted_console(concurrency=5)
    first = make_snapshot(30, concurrency=5)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        now = app.screen.query_one("#throughput-now")
        await until(pilot, lambda: f"{first.requests_total:,} requests" in str(now.render()))
        later = replace(first, requests_total=first.requests_total + 1234)  # the same second
        controller.push(later)
        await until(pilot, lambda: f"{later.requests_total:,} requests" in str(now.render()))
