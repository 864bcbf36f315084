"""The console's level helpers without an app: the `c` dialog's ramp and the --stages guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loadscope.tui.level import RAMP_STEP, Ramp, StagesGuard


class FakeTimer:
    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


class Intervals:
    """Hands out timers that never fire; the test steps the ramp itself."""

    def __init__(self) -> None:
        self.timers: list[FakeTimer] = []

    def set_interval(self, interval: float, callback: Callable[[], Any]) -> FakeTimer:
        self.timers.append(FakeTimer())
        return self.timers[-1]


def test_a_second_ramp_stops_the_first_ones_timer() -> None:
    intervals, sent = Intervals(), []
    ramp = Ramp(intervals, sent.append, lambda: 0, lambda: True)  # type: ignore[arg-type]
    ramp.start(10 * RAMP_STEP)
    ramp.start(20 * RAMP_STEP)
    assert [timer.stopped for timer in intervals.timers] == [True, False]
    assert ramp.target == 20 * RAMP_STEP and sent == [RAMP_STEP, RAMP_STEP]


def test_the_stages_guard_refuses_a_level_key_and_says_so_once_while_the_notice_shows() -> None:
    notices: list[str] = []
    guard = StagesGuard(True, False, lambda text, **_: notices.append(text))
    assert guard.refuse_level_key() and guard.refuse_level_key()
    assert len(notices) == 1 and "--stages set the VUs" in notices[0]
    assert not StagesGuard(False, False, lambda *_, **__: None).refuse_level_key()
