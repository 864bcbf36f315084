"""Snapshot tests of the console's screens, fed by deterministic snapshots.

Regenerate after a deliberate change with `pytest tests/test_console_snapshots.py
--snapshot-update`, and look at the SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from loadscope.engine import Snapshot
from loadscope.tui.app import ConsoleOptions, LoadscopeApp
from loadscope.tui.cli._loadt import loadt_values
from loadscope.tui.cli._text import render_text
from loadscope.tui.controller import ScriptedController

from .fake_snapshots import make_snapshot
from .reports import report_of


def report(snapshot: Snapshot, interrupted: bool = False) -> tuple[str, dict[str, object]]:
    """The real text report, as the console's summary shows it."""
    data = report_of(snapshot)
    values = loadt_values(
        snapshot,
        runbooks=1,
        warm_up="0s",
        duration="90s",
        duration_s=90.0,
        concurrent=snapshot.concurrency,
        max_rps=0,
    )
    return render_text(snapshot, data, values), data


def app(**kwargs: object) -> LoadscopeApp:
    snapshots = [make_snapshot(90, **kwargs)]  # type: ignore[arg-type]
    return LoadscopeApp(
        ScriptedController(snapshots),
        ConsoleOptions(label="examples/demo.yml", concurrency=10, save_dir=Path("/nonexistent")),
        report,
        poll_seconds=0.05,
    )


async def settle(pilot: Pilot) -> None:
    await pilot.pause(0.3)


@pytest.mark.slow
def test_dashboard_120x40(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app(), terminal_size=(120, 40), run_before=settle)


@pytest.mark.slow
def test_dashboard_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app(), terminal_size=(80, 24), run_before=settle)


@pytest.mark.slow
def test_dashboard_churn(snap_compare) -> None:  # type: ignore[no-untyped-def]
    churny = app(churn=True, reuse_mode="per-iteration")
    assert snap_compare(churny, terminal_size=(120, 40), run_before=settle)


@pytest.mark.slow
def test_help_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def open_help(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(app(), terminal_size=(120, 40), run_before=open_help)


@pytest.mark.slow
def test_concurrency_dialog(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def open_dialog(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("c")
        for _ in range(50):  # the dialog mounts and focuses its input
            if pilot.app.screen.query("#dialog-input") and pilot.app.screen.focused is not None:
                break
            await pilot.pause(0.05)
        pilot.app.screen.query_one("#dialog-input").cursor_blink = False  # blinking is timing
        await pilot.pause(0.3)

    assert snap_compare(app(), terminal_size=(120, 40), run_before=open_dialog)


@pytest.mark.slow
def test_zoomed_connections_with_ledger(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def zoom(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.click("#connections")
        await pilot.pause(0.3)

    assert snap_compare(app(), terminal_size=(120, 40), run_before=zoom)


@pytest.mark.slow
def test_summary_screen(snap_compare, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async def stop(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause(0.3)

    monkeypatch.chdir(tmp_path)
    stopped = app()
    stopped.options.summary_json = "summary.json"
    assert snap_compare(stopped, terminal_size=(120, 40), run_before=stop)
    assert (tmp_path / "summary.json").exists()
