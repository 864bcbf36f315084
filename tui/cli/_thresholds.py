"""`--threshold` expressions, compiled before any load and checked against the final numbers.

They use the runbook expression language over runn's names (`error_rate`, `p99`, ...) and
loadscope's own (`req_p99`, `connections_opened`, ...); see `THRESHOLD_NAMES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...engine import Snapshot
from ..live_thresholds import Abort, ThresholdState
from ._errors import UsageError
from ._k6_thresholds import k6_hint
from ._loadt import ITERATION_NAMES, THRESHOLD_NAMES

if TYPE_CHECKING:
    from ...engine.runbook import Expression


@dataclass(frozen=True)
class Result:
    expression: str
    passed: bool
    why: str  # empty when it passed
    values: dict[str, float | None]  # the names it uses, rounded as the report rounds them


@dataclass
class Verdict:
    results: list[Result] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [result.why for result in self.results if not result.passed]

    def as_report(self) -> list[dict[str, Any]]:
        return [
            {
                "expression": result.expression,
                "passed": result.passed,
                **({"why": result.why} if not result.passed else {}),
                "values": result.values,
                "meanings": {name: meaning(name) for name in result.values},
            }
            for result in self.results
        ]


LATENCY_NAMES = frozenset({"min", "max", "avg", "mean", "mid", "med", "p50", "p90", "p95"})
LATENCY_NAMES |= {"p99", "p999"}


def meaning(name: str) -> str:
    """What a threshold name measures: runn's names are over whole iterations, `req_` ones
    over single requests (the quiet summary's p50/p99 are the requests' ones)."""
    if name.startswith("req_"):
        unit, measure = "request", name.removeprefix("req_")
    elif name in ITERATION_NAMES:
        unit, measure = "iteration", name
    else:
        return name.replace("_", " ")
    if measure in LATENCY_NAMES:
        return f"{unit} latency {measure}, ms"
    if measure == "error_rate":
        return f"failed {unit}s, %"
    if measure == "rps":
        return f"{unit}s per second"
    return f"{unit}s {measure.replace('_', ' ')}"


class Thresholds:
    def __init__(self, expressions: list[Expression]) -> None:
        self.expressions = expressions

    @classmethod
    def compile(cls, sources: list[str]) -> Thresholds:
        """Parse every threshold now: a bad one is exit code 2 before anything is sent."""
        sources = [source for source in sources if source.strip()]
        if not sources:
            return cls([])
        from ...engine.runbook import RunbookError, compile_expression  # only when needed

        compiled = []
        for source in sources:
            try:
                expression = compile_expression(source, origin="--threshold")
            except RunbookError as exc:
                hint = k6_hint(source)
                if hint is None:
                    raise UsageError(str(exc)) from None
                raise UsageError(f"{exc.location}: {exc.message} ({hint})") from None
            unknown = sorted(expression.names - THRESHOLD_NAMES)
            if unknown:
                known = ", ".join(sorted(THRESHOLD_NAMES))
                raise UsageError(
                    f"--threshold: unknown name {', '.join(unknown)} in `{source}` (known: {known})"
                )
            _check_types(expression, source)
            compiled.append(expression)
        return cls(compiled)

    def evaluate(self, names: dict[str, float | None]) -> Verdict:
        rounded = {name: _rounded(value) for name, value in names.items()}
        verdict = Verdict()
        for expression in self.expressions:
            passed = expression.is_true(rounded)
            why = "" if passed else expression.explain(rounded)
            used = {name: rounded[name] for name in sorted(expression.names)}
            verdict.results.append(Result(expression.source, passed, why, used))
        return verdict


def _rounded(value: float | None) -> float | None:
    """Milliseconds and rates to 3 decimals, as the JSON report gives them (None: nothing was
    measured, and a threshold on it cannot pass)."""
    return round(value, 3) if isinstance(value, float) else value


def _check_types(expression: Expression, source: str) -> None:
    """Evaluate over stand-in numbers: a threshold that cannot be a boolean for any of them
    (`p99 < "a"`, `p99`) is bad input now, not a failed threshold after the load."""
    from ...engine.runbook import EvalError

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


@dataclass(frozen=True)
class AbortRule:
    """--abort-on-fail (k6's abortOnFail): a threshold failing on the live numbers stops the
    run; --abort-grace (k6's delayAbortEval) is how long into the measured run before it may."""

    grace: float = 0.0


class LiveThresholds:
    """The thresholds checked each second against the live numbers: when each first failed,
    and with an `AbortRule`, the failure that stops the run."""

    def __init__(self, thresholds: Thresholds, rule: AbortRule | None) -> None:
        self.thresholds = thresholds
        self.rule = rule
        self.first_failed_at: dict[str, float] = {}
        self.failing: dict[str, bool | None] = {}  # as last checked; None: not measured yet
        self.abort: Abort | None = None

    @property
    def active(self) -> bool:
        return bool(self.thresholds.expressions)

    def check(self, names: dict[str, float | None], elapsed_s: float) -> Abort | None:
        """Evaluate now; the `Abort` the first time one fails past the grace (else None).
        A threshold over a number not measured yet (no response so far) waits for it."""
        for result in self.thresholds.evaluate(names).results:
            waiting = any(value is None for value in result.values.values())
            self.failing[result.expression] = None if waiting else not result.passed
            if result.passed or waiting:
                continue
            self.first_failed_at.setdefault(result.expression, elapsed_s)
            if self.abort is None and self.rule is not None and elapsed_s >= self.rule.grace:
                self.abort = Abort(result.expression, elapsed_s, result.why)
        return self.abort

    def states(self) -> list[ThresholdState]:
        return [
            ThresholdState(
                expression.source,
                self.failing.get(expression.source),
                self.first_failed_at.get(expression.source),
            )
            for expression in self.thresholds.expressions
        ]

    def annotate(self, report: dict[str, Any]) -> None:
        """The final report's thresholds with when each first failed live, and what stopped
        the run (`aborted_by`, null when none did)."""
        for entry in report.get("thresholds", []):
            at = self.first_failed_at.get(entry["expression"])
            entry["first_failed_at_s"] = None if at is None else round(at, 3)
        report["aborted_by"] = self.abort.as_report() if self.abort else None


@dataclass(frozen=True)
class LiveCheck:
    """--threshold on the live numbers: the thresholds, and how a snapshot gives their names."""

    thresholds: LiveThresholds
    names: Callable[[Snapshot], dict[str, float | None]]

    def check(self, snapshot: Snapshot) -> Abort | None:
        return self.thresholds.check(self.names(snapshot), snapshot.elapsed_s)

    def states(self) -> list[ThresholdState]:
        return self.thresholds.states()
