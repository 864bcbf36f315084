"""What the console shows must be true (issue 13), driven by Textual pilots: units past a
second, one histogram row for equal latencies, "–" when nothing was timed, no number cut at
120x40 or 80x24, the chart layouts, one time scale for stacked charts, the event log and the
errors panel's labels, the `h` cycle, where reports are saved, the thresholds' verdict, and a
refused target ending the console before its dashboard opens."""

from __future__ import annotations

import dataclasses
import json
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, Group
from rich.text import Text
from textual.pilot import Pilot

from loadscope.engine import Histogram, HistogramData, LatencySummary, SessionConfig, Snapshot
from loadscope.engine.control import ScenarioSpec
from loadscope.engine.metrics._snapshot import EventRecord
from loadscope.tui.app import ConsoleOptions, LoadscopeApp
from loadscope.tui.cli._console import report_renderer
from loadscope.tui.cli._options import LoadPlan
from loadscope.tui.cli._thresholds import Thresholds
from loadscope.tui.controller import ScriptedController
from loadscope.tui.format import compact
from loadscope.tui.screens.summary import SummaryScreen
from loadscope.tui.widgets.chart import TimeChart
from loadscope.tui.widgets.errors import KIND_WIDTH, TIME_WIDTH, event_parts
from loadscope.tui.widgets.header import SessionHeader
from loadscope.tui.widgets.latency import HistogramView
from loadscope.tui.widgets.text_view import TextView

from .cli_support import loadscope
from .fake_snapshots import make_snapshot
from .helpers import until
from .reports import report_of

TARGET = "http://127.0.0.1:8080"


def render_stub(snapshot: Snapshot, interrupted: bool = False) -> tuple[str, dict[str, Any]]:
    return f"report: {snapshot.requests_total} requests", report_of(snapshot)


def scripted(
    snapshot: Snapshot,
    *,
    render: Callable[[Snapshot, bool], tuple[str, dict[str, Any]]] = render_stub,
    save_dir: Path = Path("/nonexistent"),
) -> tuple[LoadscopeApp, ScriptedController]:
    controller = ScriptedController([snapshot])
    options = ConsoleOptions(label="", concurrency=snapshot.concurrency, save_dir=save_dir)
    return LoadscopeApp(controller, options, render, poll_seconds=0.05), controller


async def drawn(pilot: Pilot, app: LoadscopeApp) -> None:
    """The first snapshot has reached the app, and the screen has drawn it: the app is idle,
    every refresh and layout it scheduled done (a condition, not a fixed pause)."""
    await until(pilot, lambda: app.snapshot is not None)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def plain(renderable: object, width: int = 200) -> str:
    """What a renderable shows at `width` columns, as plain text."""
    if isinstance(renderable, Text):
        return renderable.plain
    if isinstance(renderable, Group):
        return "\n".join(plain(part, width) for part in renderable.renderables)
    console = Console(width=width, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get().rstrip("\n")


def view_text(app: LoadscopeApp, selector: str) -> str:
    view = app.screen.query_one(selector, TextView)
    return plain(view.render(), view.content_size.width)


def chart_text(app: LoadscopeApp, selector: str) -> list[str]:
    return plain(app.screen.query_one(selector, TimeChart).render()).splitlines()


def slow_snapshot(latency_ms: float = 1500.0, seconds: int = 30) -> Snapshot:
    """Every request took exactly `latency_ms`: a delay endpoint."""
    histogram = Histogram()
    for _ in range(200):
        histogram.record(int(latency_ms * 1000))
    base = make_snapshot(seconds)
    timeline = tuple(
        dataclasses.replace(p, p50_ms=latency_ms, p90_ms=latency_ms, p99_ms=latency_ms)
        for p in base.timeline
    )
    summary = LatencySummary.of(histogram)
    return dataclasses.replace(
        base,
        timeline=timeline,
        latency=summary,
        latency_window=summary,
        histogram_total=HistogramData.of(histogram),
        histogram_window=HistogramData.of(histogram),
    )


def churny_open_snapshot() -> Snapshot:
    """The widest header and numbers: open model, per-iteration, churn, every warning."""
    base = make_snapshot(60, churn=True, reuse_mode="per-iteration")
    warnings = base.warnings + tuple(
        dataclasses.replace(base.warnings[0], kind=kind, message=message)
        for kind, message in (
            ("time_wait_growth", "TIME_WAIT keeps growing: 3,636 sockets, +341/s"),
            ("low_reuse", "1.00 requests per connection: connections close almost at once"),
        )
    )
    return dataclasses.replace(
        base,
        mode="open",
        rate=400.0,
        max_vus=40,
        busy_vus=35,
        targets=("https://127.0.0.1:43211/json",),
        scenario="https://127.0.0.1:43211/json",
        warnings=warnings,
    )


@pytest.mark.slow
async def test_latency_past_a_second_reads_in_seconds_and_equal_ones_share_a_row() -> None:
    app, _ = scripted(slow_snapshot(1500.0))
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot, app)
        trend = chart_text(app, "#latency-trend-chart")
        labels = [line[:6].strip() for line in trend[:-1] if line[:6].strip()]
        assert labels[0] == "2s" and "1s" in labels  # a nice ceiling above 1.5 s, and half
        assert not any("km" in line or "kms" in line for line in trend)
        histogram = plain(app.screen.query_one(HistogramView).render()).splitlines()
        assert len(histogram) == 1 and histogram[0].startswith("1.50s ")
        assert "200" in histogram[0]


@pytest.mark.slow
async def test_a_second_without_responses_shows_a_dash_not_zero() -> None:
    base = make_snapshot(30, concurrency=0)
    last = dataclasses.replace(base.timeline[-1], rps=0.0, errors=0, p50_ms=0.0, p99_ms=0.0)
    app, _ = scripted(dataclasses.replace(base, timeline=(*base.timeline[:-1], last)))
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot, app)
        assert "now p50 –  p99 –" in view_text(app, "#latency-trend-legend")


@pytest.mark.slow
@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
async def test_no_number_is_cut_and_the_target_stays_in_the_header(size: tuple[int, int]) -> None:
    snapshot = churny_open_snapshot()
    app, _ = scripted(snapshot)
    async with app.run_test(size=size) as pilot:
        await drawn(pilot, app)
        header = app.screen.query_one(SessionHeader).render().plain
        assert header.endswith("https://127.0.0.1:43211/json")
        assert "400 it/s" in header and "35/40 VUs" in header and "per-iteration" in header
        numbers = view_text(app, "#connections-numbers")
        assert "…" not in numbers
        kernel = snapshot.kernel
        assert kernel is not None
        opened_now = snapshot.timeline[-1].opened
        assert f"{opened_now:,}/s" in numbers or f"{compact(opened_now)}/s" in numbers
        assert f"peak {kernel.time_wait_peak:,}" in numbers
        assert f"fds {compact(kernel.fds_open)}/{compact(kernel.fds_limit)}" in numbers
        errors = view_text(app, "#errors-table").splitlines()
        warning_lines = [line for line in errors if line.startswith("! ")]
        for warning in snapshot.warnings:  # whole, or named by its kind: never cut
            assert any(warning.kind in line for line in warning_lines)
        assert not any("…" in line for line in warning_lines)
        for error in snapshot.errors:
            row = next(line for line in errors if line.strip().startswith(error.kind))
            assert f" {error.count:,} " in row


@pytest.mark.slow
async def test_80x24_gives_throughput_a_real_chart_and_says_more_is_below() -> None:
    app, _ = scripted(make_snapshot(60))
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot, app)
        chart = app.screen.query_one("#throughput-chart", TimeChart)
        assert chart.content_size.height >= 5
        hint = app.screen.query_one("#scroll-hint")
        assert hint.display and hint.region.height == 1
        assert "more panels below" in str(hint.render())


@pytest.mark.slow
async def test_200x50_gives_the_extra_height_to_the_charts() -> None:
    heights = {}
    for size in ((120, 40), (200, 50)):
        app, _ = scripted(make_snapshot(60))
        async with app.run_test(size=size) as pilot:
            await drawn(pilot, app)
            heights[size] = {
                name: app.screen.query_one(f"#{name}").region.height
                for name in ("throughput", "latency-trend", "steps", "errors")
            }
    small, large = heights[(120, 40)], heights[(200, 50)]
    assert (
        large["throughput"] > small["throughput"]
        and large["latency-trend"] > small["latency-trend"]
    )
    assert large["steps"] <= small["steps"] + 1 and large["errors"] <= small["errors"] + 1


@pytest.mark.slow
async def test_stacked_charts_share_one_time_scale() -> None:
    app, _ = scripted(make_snapshot(90))
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot, app)
        axes = [
            chart_text(app, f"#{name}")[-1]
            for name in ("throughput-chart", "latency-trend-chart", "connections-chart")
        ]
        assert axes[0].strip() and axes[0] == axes[1] == axes[2]


@pytest.mark.slow
async def test_the_event_log_says_each_thing_once_and_indents_what_wraps() -> None:
    assert event_parts("concurrency", "concurrency 11 → 12") == ("VUs", "11 → 12")
    assert event_parts("reuse", "reuse mode shared → none") == ("reuse", "shared → none")
    long = "a warning long enough to wrap " * 4
    base = make_snapshot(30)
    events = (*base.events, EventRecord(31.0, "warning", long.strip()))
    app, _ = scripted(dataclasses.replace(base, events=events))
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot, app)
        lines = [strip.text for strip in app.screen.query_one("#events-log").lines]
        assert not any("concurrency concurrency" in line for line in lines)
        assert any("VUs" in line and "10 → 20" in line for line in lines)
        first = next(i for i, line in enumerate(lines) if "a warning long" in line)
        continuation = lines[first + 1]
        indent = len(continuation) - len(continuation.lstrip())
        assert indent >= TIME_WIDTH + KIND_WIDTH + 2 and continuation.strip() in long


@pytest.mark.slow
async def test_the_errors_panel_counts_all_failed_iterations_on_their_row() -> None:
    base = make_snapshot(30)
    failures = (("demo:create_user: test failed", 3), ("demo:login: timeout", 2))
    app, _ = scripted(dataclasses.replace(base, iterations_failed=5, failures=failures))
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot, app)
        errors = view_text(app, "#errors-table")
        row = next(line for line in errors.splitlines() if "failed iterations" in line)
        assert " 5 " in row and "+1 more; top 3×" in row
        assert "failed it." not in errors


@pytest.mark.slow
async def test_h_cycles_auto_http1_http2_auto_and_the_header_shows_it() -> None:
    app, controller = scripted(make_snapshot(30))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        await pilot.press("h", "h", "h")
    versions = [args[0] for name, args in controller.calls if name == "set_http_version"]
    assert versions == ["http1", "http2", "auto"]
    for setting, shown in (("http1", "HTTP 1.1 forced"), ("http2", "HTTP 2 forced")):
        forced, _ = scripted(dataclasses.replace(make_snapshot(30), http_version=setting))
        async with forced.run_test(size=(120, 40)) as pilot:
            await drawn(pilot, forced)
            assert shown in forced.screen.query_one(SessionHeader).render().plain
    app, _ = scripted(make_snapshot(30))
    async with app.run_test(size=(120, 40)) as pilot:
        await drawn(pilot, app)
        assert "HTTP auto (1.1)" in app.screen.query_one(SessionHeader).render().plain


async def test_h_takes_in_http3_when_every_target_is_https() -> None:
    https = dataclasses.replace(make_snapshot(30), targets=("https://127.0.0.1:8443",))
    app, controller = scripted(https)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        await pilot.press("h", "h", "h", "h")
        await pilot.pause(0.1)
    versions = [args[0] for name, args in controller.calls if name == "set_http_version"]
    assert versions == ["http1", "http2", "http3", "auto"]
    forced, _ = scripted(dataclasses.replace(https, http_version="http3"))
    async with forced.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: forced.snapshot is not None)
        await pilot.pause(0.2)
        assert "HTTP 3 forced" in forced.screen.query_one(SessionHeader).render().plain


@pytest.mark.slow
async def test_s_saves_into_the_reports_folder_with_one_file_mode(tmp_path: Path) -> None:
    folder = tmp_path / "loadscope-reports"
    app, _ = scripted(make_snapshot(30), save_dir=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        await pilot.press("s")
        saved = {".json", ".txt", ".svg", ".html"}
        await until(pilot, lambda: {p.suffix for p in folder.glob("loadscope-*")} == saved)
    json_file, text_file = next(folder.glob("*.json")), next(folder.glob("*.txt"))
    assert stat.S_IMODE(json_file.stat().st_mode) == stat.S_IMODE(text_file.stat().st_mode)
    assert json.loads(json_file.read_text())["requests_total"] > 0


@pytest.mark.slow
def test_the_console_saves_into_loadscope_reports_by_default() -> None:
    help_text = loadscope("console", "--help").out
    assert "--save-dir DIR" in help_text and "./loadscope-reports" in help_text
    assert "loadscope-reports/" in (Path(__file__).parents[1] / ".gitignore").read_text()


@pytest.mark.slow
async def test_the_summary_shows_the_thresholds_verdict(tmp_path: Path) -> None:
    plan = LoadPlan(ScenarioSpec(url=TARGET + "/"), SessionConfig(concurrency=10))
    render = report_renderer(plan, Thresholds.compile(["p99 < 0", "error_rate < 100"]))
    app, _ = scripted(make_snapshot(30), render=render, save_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        banner = str(app.screen.query_one("#summary-banner").render())
        report_text = str(app.screen.query_one("#summary-report").render())
    assert "thresholds: 1 of 2 FAILED" in banner and str(tmp_path) in banner
    assert "✗ FAILED  p99 < 0" in report_text and "iteration latency p99, ms" in report_text
    saved = json.loads(next(tmp_path.glob("loadscope-*.json")).read_text())
    assert [result["passed"] for result in saved["thresholds"]] == [False, True]


def free_port() -> int:
    """A loopback port with nothing listening (bound, then closed, never listened on)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_the_console_against_a_refusing_port_exits_2_before_the_dashboard() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = loadscope("console", url, "-d", "30s", env={"LOADSCOPE_FORCE_CONSOLE": "1"})
    assert result.code == 2
    assert result.out == ""  # the dashboard never drew
    assert result.error_line() == (
        f"loadscope: target unreachable: connect to {url.rstrip('/')}: connection refused"
    )
