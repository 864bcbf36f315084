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

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

# Imported when first used (`__getattr__`): a URL run needs `RunbookOptions` (a field of the
# scenario spec) but none of the YAML reader, compiler or built-ins behind the rest.
if TYPE_CHECKING:
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

_EXPORTS = {
    "EvalError": "._errors",
    "Location": "._errors",
    "RunbookError": "._errors",
    "Expression": "._expression",
    "compile_expression": "._expression",
    "evaluate": "._expression",
    "MixReport": "._mix",
    "MixScenario": "._mix",
    "parse_mix": "._mix",
    "RunbookOptions": "._options",
    "RunbookScenario": "._scenario",
    "StepOutcome": "._scenario",
    "compile_runbooks": "._scenario",
    "load_runbooks": "._scenario",
    "parse_var_value": "._scenario",
    "select_by_labels": "._scenario",
    "skip_included": "._scenario",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
