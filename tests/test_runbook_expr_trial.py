"""What a runn user's expressions need: nil-guarded defaults, failure values, `#` comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadscope.engine.runbook import RunbookError

from .test_runbook_run import one_step, run

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
