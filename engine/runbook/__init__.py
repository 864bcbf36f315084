"""runn runbooks (the HTTP part) as load scenarios, parsed and compiled once per session.

    scenario = load_runbooks(["login.yml"], {"user": "alice"})   # raises RunbookError
    scenario.warnings                                            # ["file:3:1: warning: ..."]
    load_runbooks(paths, options=RunbookOptions(fail_fast=True, scopes=frozenset({"read:parent"})))

The expression language is also usable on its own, for thresholds over report numbers:

    expr = compile_expression("error_rate < 1 && p99 < 200", origin="--threshold")
    expr.evaluate(values) is True or print("threshold failed:", expr.explain(values))

See the "Runbooks: what is supported" section of README.md for the subset.
"""

from __future__ import annotations

from ._errors import EvalError, Location, RunbookError
from ._expression import Expression, compile_expression, evaluate
from ._mix import MixReport, MixScenario, parse_mix
from ._options import RunbookOptions
from ._scenario import (
    RunbookScenario,
    StepOutcome,
    compile_runbooks,
    load_runbooks,
    parse_var_value,
    select_by_labels,
    skip_included,
)

__all__ = [
    "EvalError",
    "Expression",
    "Location",
    "MixReport",
    "MixScenario",
    "RunbookError",
    "RunbookOptions",
    "RunbookScenario",
    "StepOutcome",
    "compile_expression",
    "compile_runbooks",
    "evaluate",
    "load_runbooks",
    "parse_mix",
    "parse_var_value",
    "select_by_labels",
    "skip_included",
]
