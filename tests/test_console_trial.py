"""What a new user found in the console (issue 21), each on scripted snapshots at the sizes they
were seen: HTTP-status errors counted twice in the throughput chart, the `c` dialog cutting its
own error, the help's list of what `s` saves, the footer cut mid-word at 80x24, the zoomed ledger
cutting numbers, "event-loop lag up to 0 ms", and the header's number formats."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import DataTable

from loadscope.engine import Snapshot
from loadscope.engine.diagnostics._detectors import Observation, generator_saturated
from loadscope.tui.app import ConsoleOptions, LoadscopeApp
from loadscope.tui.controller import ScriptedController
from loadscope.tui.screens.dashboard import DashboardScreen
from loadscope.tui.screens.help import HelpScreen
from loadscope.tui.screens.value_dialog import ValueDialog
from loadscope.tui.widgets.header import SessionHeader

from .fake_snapshots import make_snapshot
from .helpers import until
from .reports import report_of
from .test_console_truths import chart_text

SIZES = ((120, 40), (80, 24))


def render_stub(snapshot: Snapshot, interrupted: bool = False) -> tuple[str, dict[str, Any]]:
    return f"report: {snapshot.requests_total} requests", report_of(snapshot)


def scripted(snapshot: Snapshot) -> LoadscopeApp:
    options = ConsoleOptions(
        label="",
        concurrency=snapshot.concurrency,
        open_model=snapshot.mode == "open",
        rate=snapshot.rate or 0.0,
    )
    return LoadscopeApp(ScriptedController([snapshot]), options, render_stub, poll_seconds=0.05)


def screen_lines(app: LoadscopeApp) -> list[str]:
    """The terminal's lines as drawn, modal screens and all (Textual's compositor output)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def dialog_text(app: LoadscopeApp) -> str:
    """The words inside the dialog's border, its lines joined ("" until it is drawn)."""
    try:
        box = app.screen.query_one("#dialog").region
    except NoMatches:
        return ""
    inside = [line[box.x + 1 : box.right - 1] for line in screen_lines(app)]
    return " ".join(" ".join(inside[box.y + 1 : box.bottom - 1]).split())


async def shown(pilot: Pilot, app: LoadscopeApp) -> None:
    await until(pilot, lambda: app.snapshot is not None)
    await pilot.pause(0.3)


def status_errors_snapshot(rps: float = 14_500.0) -> Snapshot:
    """Every response a 500 that fails its iteration (`/status/500`): responses/s and errors/s
    are the same requests."""
    base = make_snapshot(30)
    timeline = tuple(dataclasses.replace(p, rps=rps, errors=int(rps)) for p in base.timeline)
    return dataclasses.replace(base, timeline=timeline, rps_now=rps, events=())


# -- the throughput chart -------------------------------------------------------------------------
def chart_top(app: LoadscopeApp) -> str:
    return chart_text(app, "#throughput-chart")[0][:6].strip()


async def test_the_chart_does_not_count_status_errors_twice() -> None:
    app = scripted(status_errors_snapshot())
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        # 14,500 responses a second, every one an error: the scale is 20k, never 50k (29,000).
        await until(pilot, lambda: chart_top(app) not in ("", "0", "1"))
        await pilot.pause(0.3)
        assert chart_top(app) == "20k"


async def test_errors_without_a_response_still_show() -> None:
    base = make_snapshot(30)
    refused = tuple(dataclasses.replace(p, rps=0.0, errors=900) for p in base.timeline)
    app = scripted(dataclasses.replace(base, timeline=refused, events=()))
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        await until(pilot, lambda: chart_top(app) not in ("", "0", "1"))
        assert chart_top(app) == "1.0k"
        assert any("█" in line for line in screen_lines(app))


# -- the `c` dialog -------------------------------------------------------------------------------
LIMIT = (
    "100,000 VUs need about 100,064 open files, but this process may open 20,000 "
    "(ulimit -n); lower the concurrency or raise the limit"
)


@pytest.mark.slow  # the VU-limit dialog reads the system's limits
@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
async def test_the_dialog_shows_its_whole_error(size: tuple[int, int]) -> None:
    app = scripted(make_snapshot(30))
    async with app.run_test(size=size) as pilot:
        await shown(pilot, app)
        app.push_screen(ValueDialog("Virtual users", 10, integer=True, limit=lambda v: LIMIT))
        await until(pilot, lambda: isinstance(app.screen, ValueDialog))
        await pilot.press(*["backspace"] * 4, *"100000", "enter")
        await until(pilot, lambda: "✗" in dialog_text(app))
        await pilot.pause(0.3)
        assert isinstance(app.screen, ValueDialog)
        assert "✗ " + LIMIT in dialog_text(app)


async def test_the_dialog_writes_large_values_as_numbers() -> None:
    app = scripted(make_snapshot(30, concurrency=100_000))
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        app.push_screen(ValueDialog("Virtual users", 100_000, integer=True))
        await until(pilot, lambda: isinstance(app.screen, ValueDialog))
        await until(pilot, lambda: "now" in dialog_text(app))
        text = dialog_text(app)
        assert "now 100,000" in text and "e+05" not in text


# -- help, footer, ledger --------------------------------------------------------------------------
async def test_help_says_s_saves_html_too() -> None:
    app = scripted(make_snapshot(30))
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, HelpScreen)
        rows = dict(app.screen.key_rows())
        assert "JSON, text and HTML" in rows["s"]


def footer_entries(app: LoadscopeApp) -> list[str]:
    """The footer's last line, as the (key, description) entries it shows."""
    return screen_lines(app)[-1].split()


FOOTER_WORDS = {
    "stop", "help", "±1", "±10", "set", "pause", "reuse", "http", "reset", "save", "zoom",
    "unzoom", "order", "ledger", "…", "+", "-", "]", "[", "z", "q", "?", "c", "␣", "m", "h",
    "r", "s", "o", "esc",
}  # fmt: skip


@pytest.mark.parametrize("zoomed", [False, True], ids=["dashboard", "zoomed"])
async def test_the_footer_never_cuts_an_entry(zoomed: bool) -> None:
    app = scripted(make_snapshot(30))
    async with app.run_test(size=(80, 24)) as pilot:
        await shown(pilot, app)
        if zoomed:
            await pilot.press("z")
            await until(pilot, lambda: app.screen.maximized is not None)
        # The footer is fitted after it is laid out: wait for it to settle, then read it.
        await until(pilot, lambda: set(footer_entries(app)) <= FOOTER_WORDS)
        await pilot.pause(0.3)
        words = footer_entries(app)
        assert set(words) <= FOOTER_WORDS, words
        assert "help" in words
        assert ("unzoom" in words) is zoomed


@pytest.mark.parametrize("size", SIZES, ids=["120x40", "80x24"])
async def test_the_zoomed_ledger_shows_every_number_whole(size: tuple[int, int]) -> None:
    snapshot = make_snapshot(30)
    live = tuple(
        dataclasses.replace(c, bytes_sent=3_312_126, bytes_received=2_650_905, requests=20_396)
        for c in snapshot.connections.live
    )
    connections = dataclasses.replace(snapshot.connections, live=live)
    app = scripted(dataclasses.replace(snapshot, connections=connections))
    async with app.run_test(size=size) as pilot:
        await shown(pilot, app)
        await pilot.press("z")
        await until(pilot, lambda: app.screen.maximized is not None)
        table = app.screen.query_one("#connections-ledger", DataTable)
        await until(pilot, lambda: table.row_count == len(live))
        await pilot.pause(0.3)
        assert table.virtual_size.width <= table.content_size.width
        text = "\n".join(screen_lines(app))
        assert "20,396" in text
        assert re.search(r"\b3,312,126\b|\b3\.3 ?MB\b", text)
        assert re.search(r"\b2,650,905\b|\b2\.7 ?MB\b", text)


# -- words and numbers ----------------------------------------------------------------------------
def test_a_saturated_generator_never_reads_lag_up_to_0_ms() -> None:
    base = Observation(
        t=0,
        steady=True,
        reuse_mode="shared",
        http2=False,
        open_model=False,
        concurrency=10,
        pool_keep=10,
        cpu_percent=98.0,
        loop_lag_ms=0.3,
    )
    hot = [dataclasses.replace(base, t=float(t)) for t in range(2, 5)]
    finding = generator_saturated(hot)
    assert finding is not None
    assert "0 ms" not in finding.message and "CPU 98%" in finding.message
    lagging = [dataclasses.replace(o, loop_lag_ms=80.0) for o in hot]
    finding = generator_saturated(lagging)
    assert finding is not None and "event-loop lag up to 80 ms" in finding.message


async def test_the_header_writes_numbers_one_way() -> None:
    base = make_snapshot(30)
    snapshot = dataclasses.replace(
        base, mode="open", rate=1_000_000.0, max_vus=5_000, busy_vus=1_234
    )
    app = scripted(snapshot)
    async with app.run_test(size=(160, 40)) as pilot:
        await shown(pilot, app)
        await until(pilot, lambda: "it/s" in app.screen.query_one(SessionHeader).render().plain)
        header = app.screen.query_one(SessionHeader).render().plain
        assert "1,000,000 it/s" in header and "1,234/5,000 VUs" in header, header
        assert isinstance(app.screen, DashboardScreen)
