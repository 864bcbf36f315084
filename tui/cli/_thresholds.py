"""`--threshold` expressions, checked against the final numbers of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._errors import UsageError


@dataclass
class Verdict:
    expressions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def as_report(self) -> list[dict[str, Any]]:
        failed = {line.split(" is not true")[0].strip("()") for line in self.failures}
        return [{"expression": e, "passed": e not in failed} for e in self.expressions]


class Thresholds:
    def __init__(self, expressions: list[str]) -> None:
        self.expressions = expressions

    @classmethod
    def compile(cls, expressions: list[str]) -> Thresholds:
        expressions = [e for e in expressions if e.strip()]
        if expressions:
            raise UsageError("--threshold is not available yet")
        return cls(expressions)

    def evaluate(self, names: dict[str, float]) -> Verdict:
        return Verdict(list(self.expressions))
