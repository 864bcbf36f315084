"""`x-loadscope: {phases: ...}` in a runbook: A/B phases without command-line flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loadscope.engine.runbook import RunbookError, load_runbooks

HEAD = "runners:\n  req: http://127.0.0.1:9\nsteps:\n  - req:\n      /:\n        get: {}\n"


def book(tmp_path: Path, text: str) -> str:
    path = tmp_path / "book.yml"
    path.write_text(HEAD + text)
    return str(path)


@pytest.mark.parametrize(
    "settings",
    [
        "x-loadscope:\n  phases: shared:20s, per-iteration:1m\n",
        "x-loadscope:\n  phases: [shared:20s, per-iteration:1m]\n",
        "x-loadscope:\n  phases:\n    - {reuse: shared, duration: 20s}\n"
        "    - {reuse: per-iteration, duration: 1min}\n",
    ],
)
def test_phases_are_read_in_every_form(tmp_path: Path, settings: str) -> None:
    scenario = load_runbooks([book(tmp_path, settings)])
    assert scenario.phases == [("shared", 20.0), ("per-iteration", 60.0)]
    assert not [w for w in scenario.warnings if "x-loadscope" in w]


def test_other_x_keys_are_still_warned_about(tmp_path: Path) -> None:
    scenario = load_runbooks([book(tmp_path, "x-other: 1\n")])
    assert scenario.phases == []
    assert any("x-other" in w for w in scenario.warnings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("x-loadscope:\n  phases: shared:20s, reuse-all:5s\n", "unknown reuse mode 'reuse-all'"),
        ("x-loadscope:\n  phases: shared\n", "is not mode:duration"),
        ("x-loadscope:\n  phases: shared:soon\n", "not a duration"),
        ("x-loadscope: [1]\n", "is a map"),
        ("x-loadscope:\n  phases:\n    - {reuse: shared}\n", "needs `reuse` and `duration`"),
    ],
)
def test_bad_phases_are_load_errors_with_a_location(
    tmp_path: Path, settings: str, message: str
) -> None:
    with pytest.raises(RunbookError) as caught:
        load_runbooks([book(tmp_path, settings)])
    text = str(caught.value)
    assert message in text
    assert re.match(re.escape(str(tmp_path / "book.yml")) + r":[789]:\d+: ", text)
    assert "\n" not in text


def test_dash_d_caps_a_runbooks_phases(tmp_path: Path) -> None:
    from loadscope.tui.cli._options import adopt_runbook_phases
    from loadscope.tui.cli._plan import RunPlan, parse_plan

    path = book(tmp_path, "x-loadscope:\n  phases: shared:20s, per-iteration:20s\n")
    scenario = load_runbooks([path])

    def load(*argv: str) -> RunPlan:
        plan = parse_plan(argv)
        assert isinstance(plan, RunPlan)
        return plan

    capped = adopt_runbook_phases(load("run", path, "-d", "1s").load, scenario)
    assert capped.config.duration == 1.0 and len(capped.phases) == 2
    whole = adopt_runbook_phases(load("run", path).load, scenario)
    assert whole.config.duration == 40.0
