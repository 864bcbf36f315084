"""A weighted scenario mix (`loadscope run a.yml b.yml --mix 3:1`): each iteration runs one
runbook, by weight; per-runbook rows; a weight count that differs from the runbooks is exit 2."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from loadscope.engine import Session, SessionConfig
from loadscope.engine.control import ScenarioSpec
from loadscope.engine.runbook import MixScenario, load_runbooks, parse_mix
from loadscope.engine.target import TargetProcess

from .cli_support import loadscope

BOOK = """desc: {name}
runners:
  api: {url}
steps:
  {name}_step:
    api:
      {path}:
        get: {{}}
    test: current.res.status == 200
"""


def books(tmp_path: Path, url: str) -> list[str]:
    paths = []
    for name, path in (("alpha", "/json"), ("beta", "/")):
        file = tmp_path / f"{name}.yml"
        file.write_text(BOOK.format(name=name, url=url, path=path))
        paths.append(str(file))
    return paths


@pytest.mark.parametrize(
    ("text", "runbooks", "message"),
    [
        ("3:1:1", 2, "--mix: 3 weights (3:1:1) for 2 runbooks; give one per runbook"),
        ("3", 2, "--mix: 1 weight (3) for 2 runbooks; give one per runbook"),
        ("3:x", 2, "--mix: '3:x' is not whole weights joined by ':', e.g. 3:1"),
        ("-1:2", 2, "--mix: '-1:2' is not whole weights joined by ':', e.g. 3:1"),
        ("0:0", 2, "--mix: 0:0: at least one weight must be more than 0"),
    ],
)
def test_bad_weights_say_why(text: str, runbooks: int, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_mix(text, runbooks)
    assert str(caught.value) == message
    assert parse_mix("3:1", 2) == (3, 1)


def test_the_weights_interleave_exactly(tmp_path: Path) -> None:
    scenario = MixScenario(load_runbooks(books(tmp_path, "http://127.0.0.1:9")), (3, 1))
    picks = [scenario._pick() for _ in range(8)]
    assert picks == [0, 0, 1, 0, 0, 0, 1, 0]


async def test_each_iteration_runs_one_runbook_by_weight(
    target: TargetProcess, tmp_path: Path
) -> None:
    served = target.requests()
    spec = ScenarioSpec(runbooks=tuple(books(tmp_path, target.http_url)), mix=(3, 1))
    scenario = spec.build()
    session = Session(SessionConfig(concurrency=4, max_iterations=40), scenario)
    await asyncio.wait_for(session.run(), 30)
    snap = session.snapshot()
    assert {step.name: step.requests for step in snap.steps} == {
        "alpha:alpha_step": 30,
        "beta:beta_step": 10,
    }
    assert target.requests() - served == 40 == snap.iterations_succeeded
    assert isinstance(scenario, MixScenario)
    assert [(r.weight, r.iterations, r.failed) for r in scenario.rows()] == [(3, 30, 0), (1, 10, 0)]


@pytest.mark.slow
def test_run_mix_reports_a_row_per_runbook(target: TargetProcess, tmp_path: Path) -> None:
    alpha, beta = books(tmp_path, target.http_url)
    report = loadscope(
        "run", alpha, beta, "--mix", "3:1", "--iterations", "40", "-c", "2", "--format", "json"
    ).json()
    assert report["mix"] == [
        {"runbook": alpha, "weight": 3, "iterations": 30, "iterations_failed": 0, "share": 0.75},
        {"runbook": beta, "weight": 1, "iterations": 10, "iterations_failed": 0, "share": 0.25},
    ]
    assert report["requests_total"] == 40
    text = loadscope("run", alpha, beta, "--mix", "1:1", "--iterations", "10").out
    assert "Runbook mix" in text


@pytest.mark.slow
def test_workers_sum_the_mix(target: TargetProcess, tmp_path: Path) -> None:
    alpha, beta = books(tmp_path, target.http_url)
    report = loadscope(
        "run", alpha, beta, "--mix", "3:1", "--iterations", "40", "-c", "2", "--workers", "2",
        "--format", "json",
    ).json()  # fmt: skip
    assert [row["iterations"] for row in report["mix"]] == [30, 10]


def test_a_weight_count_that_differs_is_exit_2(tmp_path: Path) -> None:
    alpha, beta = books(tmp_path, "http://127.0.0.1:9")
    result = loadscope("run", alpha, beta, "--mix", "1:2:3", "-d", "1s")
    assert result.code == 2
    assert result.error_line() == (
        "loadscope: --mix: 3 weights (1:2:3) for 2 runbooks; give one per runbook"
    )
    url = loadscope("run", "http://127.0.0.1:9/", "--mix", "1", "-d", "1s")
    assert url.code == 2 and "--mix weighs runbooks" in url.error_line()
