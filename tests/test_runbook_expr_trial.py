"""What a runn user's expressions need: nil-guarded defaults, failure values, `#` comments."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from loadscope.engine import IterationFailed
from loadscope.engine.redact import add_secrets
from loadscope.engine.runbook import RunbookError, compile_expression, load_runbooks
from loadscope.engine.runbook._compile import SHARP_COMMENT
from loadscope.engine.runbook._why import MAX_DISTINCT, MAX_VALUE, VARIES, Why

from .test_runbook_run import FakeVU, failure, one_step, prepared, run

ENDPOINT = "http://127.0.0.1:9"


def load_error(tmp_path: Path, step: str, vars: str = "{}") -> str:
    with pytest.raises(RunbookError) as caught:
        one_step(tmp_path, step, vars=vars)
    return str(caught.value)


@pytest.mark.parametrize(
    "test",
    [
        "(vars.nosuch ?? 1) == 1",
        "vars?.nosuch == nil",
        "vars.nosuch == nil && nil == vars.other",
        "(vars.nosuch?.deep ?? 2) == 2",
        "(nosuch ?? 3) == 3",
        "(steps.later ?? 4) == 4",
    ],
)
def test_a_nil_guarded_missing_name_is_nil_as_in_runn(tmp_path: Path, test: str) -> None:
    run(one_step(tmp_path, f"req: {{/a: {{get: {{}}}}}}\ntest: '{test}'"))


def test_a_default_for_a_missing_var_in_a_path(tmp_path: Path) -> None:
    vu = run(one_step(tmp_path, "req: {'/echo?u={{ vars.user ?? \"anon\" }}': {get: {}}}"))
    assert vu.paths() == ["/echo?u=anon"]
    step = "req: {'/echo?u={{ vars.user ?? 1 }}': {get: {}}}"
    vu = run(one_step(tmp_path, step, vars="{user: bo}"))
    assert vu.paths() == ["/echo?u=bo"]


@pytest.mark.parametrize(
    ("test", "message"),
    [
        ("vars.nosuch == 1", "unknown var `nosuch`"),
        ("(vars.nosuch.deep ?? 1) == 1", "unknown var `nosuch`"),
        ("vars.nosuch ?? vars.typo", "unknown var `typo`"),
        ("nosuch == 1", "unknown name `nosuch`"),
        ("steps.later.res == nil", "unknown step `later`"),
    ],
)
def test_an_unguarded_typo_is_still_a_load_error(tmp_path: Path, test: str, message: str) -> None:
    assert message in load_error(tmp_path, f"req: {{/a: {{get: {{}}}}}}\ntest: '{test}'")


@pytest.mark.parametrize(
    ("test", "why"),
    [
        ('current.res.headers["X-Multi"][1] == "3"', ': left "2"'),
        ("current.res.status == 200 and current.res.body.a > 5",
         " (current.res.body.a > 5: left 1)"),
        ("current.res.body.a == 2 || current.res.body.id == 8",
         " (current.res.body.a == 2: left 1; current.res.body.id == 8: left 7)"),
        ("current.res.body.a == current.res.body.id", ": left 1, right 7"),
        ("2 not in current.res.body.list", ": right [1,2]"),
        ("len(current.res.body.list) >= 3", ": left 2"),
        ("current.res.body.a == 1 && (false || current.res.body.id < 3)",
         " (current.res.body.id < 3: left 7)"),
        ("current.res.body.nope != nil", ": left nil"),
        ("current.res.body.list", ": value [1,2]"),
        ("all(current.res.body.list, {# > 1})", ""),
    ],
)  # fmt: skip
def test_a_failed_test_shows_the_values_of_the_failing_comparison(
    tmp_path: Path, test: str, why: str
) -> None:
    scenario = one_step(tmp_path, f"req: {{/json: {{get: {{}}}}}}\ntest: '{test}'")
    assert failure(scenario) == f"book:s: test failed: {test}{why}"


def test_a_multi_line_test_shows_its_failing_line(tmp_path: Path) -> None:
    step = "req: {/json: {get: {}}}\ntest: |\n  current.res.status == 200\n"
    step += "  && current.res.body.a == 3"
    assert failure(one_step(tmp_path, step)).endswith(" (current.res.body.a == 3: left 1)")


def test_the_values_are_bounded_and_secrets_masked(tmp_path: Path) -> None:
    secret = "s3cr3t-" + "x" * 80
    add_secrets([secret])
    step = "req: {/echo: {get: {}}}\ntest: current.res.body.body == vars.password"
    reason = failure(one_step(tmp_path, step, vars=f"{{password: {secret}}}"))
    assert reason.endswith(
        'test failed: current.res.body.body == vars.password: left "", right "***"'
    )
    step = "req: {/echo: {get: {}}}\ntest: current.res.body.headers == 1"
    reason = failure(one_step(tmp_path, step))
    assert reason.startswith('book:s: test failed: current.res.body.headers == 1: left [["')
    assert reason.endswith("…") and len(reason.split(": left ")[1]) == MAX_VALUE


def test_a_test_whose_values_always_differ_stays_one_reason(tmp_path: Path) -> None:
    scenario = one_step(tmp_path, "req: {/a: {get: {}}}\ntest: runn.i < 0")
    reasons = set()
    for i in range(MAX_DISTINCT + 5):
        vu = FakeVU()
        vu.iteration = i
        with pytest.raises(IterationFailed) as caught:
            asyncio.run(scenario.run_iteration(vu))  # type: ignore[arg-type]
        reasons.add(caught.value.reason)
    assert len(reasons) == MAX_DISTINCT + 1
    assert f"book:s: test failed: runn.i < 0 ({VARIES})" in reasons


def test_a_passing_test_never_computes_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explain(*_: object) -> str:
        raise AssertionError("explained a passing test")

    monkeypatch.setattr(Why, "explain", explain)
    run(one_step(tmp_path, "req: {/json: {get: {}}}\ntest: current.res.body.a == 1"), iterations=3)


COMMENTED = """
runners:
  req: http://127.0.0.1:9
steps:
  s:
    req: {/json: {get: {}}}
    test: |
      # the status first
      current.res.status == 200 # a trailing one
        # an indented one, with 'quotes and (brackets
      && len(map(current.res.body.list, {# * 2})) == 2
      && current.res.body.a == 1 // the supported kind
  t:
    req: {/json: {get: {}}}
    test: |
      current.res.status == 200
      # must be the second
      && current.res.body.a == 2
"""


def test_sharp_comments_in_a_test_are_read_with_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "book.yml"
    path.write_text(COMMENTED.lstrip("\n"))
    scenario = load_runbooks([path])
    assert [w for w in scenario.warnings if "# comment" in w] == [
        f"{path}:7:7: warning: {SHARP_COMMENT}",
        f"{path}:16:7: warning: {SHARP_COMMENT}",
    ]
    prepared_scenario = prepared(path)
    reason = failure(prepared_scenario)
    assert reason == (
        "book:t: test failed: current.res.status == 200 && current.res.body.a == 2"
        " (current.res.body.a == 2: left 1)"
    )


def test_a_sharp_outside_a_runbook_is_still_an_error() -> None:
    with pytest.raises(RunbookError, match="unexpected '#'"):
        compile_expression("p99 < 200 # comment", "--threshold")
