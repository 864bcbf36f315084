"""`--iterations`: every step's outcome, and every `dump`, on stderr, as runn run prints them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from ...engine.redact import redact_text

MARKS = {"success": "ok", "failure": "fail", "skipped": "skip"}


def show_steps(scenario: object, iterations: int | None) -> None:
    """With `--iterations`, every step's outcome with the reason of each failure, each line
    labelled with its run-wide iteration (VUs, and workers, run side by side). In a worker
    process this runs there and writes to the stderr it shares with the command."""
    report_steps = getattr(scenario, "report_steps", None)
    if iterations is None or report_steps is None:
        return
    report_steps(_show)
    if hasattr(scenario, "dump_sink"):  # after the session's own sink (its event log) is set
        scenario.dump_sink = _printing_dumps(scenario.dump_sink)


def _printing_dumps(logged: Callable[[str, Any], None] | None) -> Callable[[str, Any], None]:
    """A `dump` sink that also prints each step's dump, as runn prints it: a string as it is,
    anything else as JSON."""

    def sink(step: str, value: Any) -> None:
        if logged is not None:
            logged(step, value)
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        sys.stderr.write(f"    --- {step} dump: {redact_text(text)}\n")
        sys.stderr.flush()

    return sink


def _show(outcome: Any) -> None:
    label = "" if outcome.iteration is None else f"[iteration {outcome.iteration + 1}] "
    lines = f"    {label}--- {outcome.step} ... {MARKS.get(outcome.outcome, outcome.outcome)}\n"
    if outcome.reason:
        lines += f"    {label}    Failure/Error: {outcome.reason}\n"
    sys.stderr.write(lines)  # one write: workers' lines do not break into each other
    sys.stderr.flush()
