"""`loadscope run a.yml b.yml --mix 3:1`: a weighted scenario mix (see the engine's
`MixScenario`), and its rows in the text report."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._errors import UsageError

if TYPE_CHECKING:
    from ...engine import Session
    from ...engine.metrics import Snapshot


def add_mix_option(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--mix",
        default=None,
        metavar="W:W...",
        help="each iteration runs ONE of the runbooks, chosen by these weights (one per "
        "runbook, in order; e.g. 3:1 runs the first three times as often), instead of all of "
        "them in turn; the report has a row per runbook",
    )


def mix_weights(text: str | None, runbooks: int) -> tuple[int, ...]:
    if text is None:
        return ()
    from ...engine.runbook import parse_mix  # the runbook package only for runbooks

    try:
        return parse_mix(text, runbooks)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def attach_mix_report(session: Session, weights: tuple[int, ...]) -> None:
    if not weights:  # no --mix: no MixScenario, and the runbook package stays unimported
        return
    from ...engine.runbook import MixReport, MixScenario

    if isinstance(session.scenario, MixScenario):
        session.add_extension(MixReport(session.scenario))


def mix_lines(snapshot: Snapshot) -> list[str]:
    if not snapshot.mix:
        return []
    total = sum(row.iterations for row in snapshot.mix) or 1
    width = max(len(row.runbook) for row in snapshot.mix) + 2
    lines = ["Runbook mix", f"  {'runbook':<{width}}weight  iterations  share   failed"]
    for row in snapshot.mix:
        lines.append(
            f"  {row.runbook:<{width}}{row.weight:>6}  {row.iterations:>10,}  "
            f"{row.iterations / total:>5.1%}  {row.failed:>7,}"
        )
    return [*lines, ""]
