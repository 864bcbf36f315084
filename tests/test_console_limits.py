"""The console's `c` dialog applies the machine's limits as `-c` does, and a big step is
applied a bite at a time while the console keeps answering keys."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from loadscope.tui.app import ConsoleOptions, LoadscopeApp
from loadscope.tui.controller import ScriptedController
from loadscope.tui.level import RAMP_STEP
from loadscope.tui.limits import PORT_RANGE, vu_limit_reason
from loadscope.tui.screens.help import HelpScreen
from loadscope.tui.screens.value_dialog import MAX_CONCURRENCY, ValueDialog

from .fake_snapshots import make_snapshot
from .reports import report_of

START = 10  # make_snapshot's concurrency


def scripted_app() -> tuple[LoadscopeApp, ScriptedController]:
    controller = ScriptedController([make_snapshot(30, concurrency=START)])
    app = LoadscopeApp(
        controller,
        ConsoleOptions(label="limits", concurrency=START),
        lambda snapshot, interrupted=False: ("report", report_of(snapshot)),
        poll_seconds=0.2,
    )
    return app, controller


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def sent_levels(controller: ScriptedController) -> list[int]:
    return [int(args[0]) for name, args in controller.calls if name == "set_concurrency"]  # type: ignore[call-overload]


async def type_value(pilot: Pilot, app: LoadscopeApp, value: int) -> None:
    await pilot.press("c")
    await until(pilot, lambda: isinstance(app.screen, ValueDialog))
    await pilot.press(*["backspace"] * 8, *str(value), "enter")


def beyond_this_machine() -> int:
    """A VU count this machine refuses (the ephemeral range holds fewer ports)."""
    if not PORT_RANGE.exists():
        pytest.skip("no ephemeral port range to check here")
    low, high = (int(part) for part in PORT_RANGE.read_text().split())
    return min(high - low + 2, MAX_CONCURRENCY)


@pytest.mark.slow
async def test_the_dialog_refuses_more_vus_than_the_machine_allows() -> None:
    value = beyond_this_machine()
    reason = vu_limit_reason(value)  # what -c would say, computed before acting
    assert reason
    app, controller = scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_value(pilot, app, value)
        await pilot.pause()  # idle: the enter key and whatever it set off are handled
        assert isinstance(app.screen, ValueDialog)  # still open: refused
        shown = app.screen.query_one("#dialog-error").render()
        assert reason in str(shown).replace("\n", " ")
    assert sent_levels(controller) == []


@pytest.mark.slow
async def test_a_big_step_is_applied_gradually_and_keys_still_work() -> None:
    target = START + 4 * RAMP_STEP + 7
    if vu_limit_reason(target):
        pytest.skip(f"this machine refuses {target} VUs: {vu_limit_reason(target)}")
    app, controller = scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.snapshot is not None)
        await type_value(pilot, app, target)
        await until(pilot, lambda: not isinstance(app.screen, ValueDialog))
        await pilot.press("question_mark")  # the console answers while VUs are being added
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await until(pilot, lambda: target in sent_levels(controller))
    levels = sent_levels(controller)
    assert levels[0] == START + RAMP_STEP
    assert len(levels) == math.ceil((target - START) / RAMP_STEP)
    assert all(later - earlier <= RAMP_STEP for earlier, later in itertools.pairwise(levels))
    assert levels == sorted(levels) and levels[-1] == target
