"""`--threshold` on the live numbers, as the console and the headless commands share it: the
state of each threshold, the failure that stops a run (`--abort-on-fail`), and how it is said."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..engine import Snapshot

ABORT_CUT_S = 1.0  # after a threshold stops the run, running iterations get this long


@dataclass(frozen=True)
class Abort:
    """The threshold that stopped the run, and when (seconds into the measured run)."""

    expression: str
    at_s: float
    why: str

    def as_report(self) -> dict[str, Any]:
        return {"expression": self.expression, "at_s": round(self.at_s, 3), "why": self.why}


@dataclass(frozen=True)
class ThresholdState:
    """One threshold as last checked: `failing` is None until its numbers are measured."""

    expression: str
    failing: bool | None
    first_failed_at_s: float | None


class LiveChecks(Protocol):
    """What the console needs of the live thresholds (`cli`'s `LiveCheck` is one)."""

    def check(self, snapshot: Snapshot) -> Abort | None: ...

    def states(self) -> list[ThresholdState]: ...


def abort_line(aborted_by: dict[str, Any]) -> str:
    """The stderr line of a run that `--abort-on-fail` stopped (from the report's `aborted_by`)."""
    return (
        f"loadscope: --abort-on-fail stopped the run at {aborted_by['at_s']:,.1f}s: "
        f"{aborted_by['why']}"
    )
