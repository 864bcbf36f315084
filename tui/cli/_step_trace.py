"""`--iterations`: every step's outcome on stderr, as runn run prints it."""

from __future__ import annotations

import sys
from typing import Any

MARKS = {"success": "ok", "failure": "fail", "skipped": "skip"}


def show_steps(scenario: object, iterations: int | None) -> None:
    """With `--iterations`, every step's outcome with the reason of each failure, each line
    labelled with its run-wide iteration (VUs, and workers, run side by side). In a worker
    process this runs there and writes to the stderr it shares with the command."""
    report_steps = getattr(scenario, "report_steps", None)
    if iterations is None or report_steps is None:
        return
    report_steps(_show)


def _show(outcome: Any) -> None:
    label = "" if outcome.iteration is None else f"[iteration {outcome.iteration + 1}] "
    lines = f"    {label}--- {outcome.step} ... {MARKS.get(outcome.outcome, outcome.outcome)}\n"
    if outcome.reason:
        lines += f"    {label}    Failure/Error: {outcome.reason}\n"
    sys.stderr.write(lines)  # one write: workers' lines do not break into each other
    sys.stderr.flush()
