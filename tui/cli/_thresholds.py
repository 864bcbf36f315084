"""`--threshold` expressions, compiled before any load and checked against the final numbers.

They use the runbook expression language over runn's names (`error_rate`, `p99`, ...) and
loadscope's own (`req_p99`, `connections_opened`, ...); see `THRESHOLD_NAMES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import UsageError
from ._loadt import THRESHOLD_NAMES

if TYPE_CHECKING:
    from loadscope.engine.runbook import Expression


@dataclass
class Verdict:
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [explanation for _, passed, explanation in self.results if not passed]

    def as_report(self) -> list[dict[str, Any]]:
        return [
            {"expression": source, "passed": passed, **({"why": why} if not passed else {})}
            for source, passed, why in self.results
        ]


class Thresholds:
    def __init__(self, expressions: list[Expression]) -> None:
        self.expressions = expressions

    @classmethod
    def compile(cls, sources: list[str]) -> Thresholds:
        """Parse every threshold now: a bad one is exit code 2 before anything is sent."""
        sources = [source for source in sources if source.strip()]
        if not sources:
            return cls([])
        from loadscope.engine.runbook import RunbookError, compile_expression  # only when needed

        compiled = []
        for source in sources:
            try:
                expression = compile_expression(source, origin="--threshold")
            except RunbookError as exc:
                raise UsageError(str(exc)) from None
            unknown = sorted(expression.names - THRESHOLD_NAMES)
            if unknown:
                known = ", ".join(sorted(THRESHOLD_NAMES))
                raise UsageError(
                    f"--threshold: unknown name {', '.join(unknown)} in `{source}` (known: {known})"
                )
            _check_types(expression, source)
            compiled.append(expression)
        return cls(compiled)

    def evaluate(self, names: dict[str, float]) -> Verdict:
        verdict = Verdict()
        for expression in self.expressions:
            passed = expression.is_true(names)
            why = "" if passed else expression.explain(names)
            verdict.results.append((expression.source, passed, why))
        return verdict


def _check_types(expression: Expression, source: str) -> None:
    """Evaluate over stand-in numbers: a threshold that cannot be a boolean for any of them
    (`p99 < "a"`, `p99`) is bad input now, not a failed threshold after the load."""
    from loadscope.engine.runbook import EvalError

    problem = ""
    for sample in (1, 1.5):  # counts are ints, latencies floats: one of them must work
        try:
            value = expression.evaluate(dict.fromkeys(THRESHOLD_NAMES, sample))
        except EvalError as exc:
            problem = str(exc)
            continue
        if type(value) is bool:
            return
        problem = f"it is a {type(value).__name__}, not true or false"
    raise UsageError(f"--threshold: `{source}` cannot pass: {problem}")
