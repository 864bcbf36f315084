"""`loadscope loadt`: runn loadt's flags, defaults, text block and JSON keys, on the engine."""

from __future__ import annotations

from typing import Any

from ...engine import SessionConfig
from ...engine.durations import go_duration
from ..describe import duration_text, ran_all_iterations
from ._loadt import loadt_values
from ._outcome import Outcome
from ._outputs import check_outputs
from ._plan import RunPlan
from ._run import build_scenario, check_descriptors, finish, live_check, run_load


def cmd_loadt(plan: RunPlan) -> int:
    load, figures = plan.load, plan.loadt
    assert figures is not None  # a loadt plan carries runn's figures
    check_descriptors(load.config, strict=figures.concurrent > 0)  # 0: "unlimited"
    metrics = check_outputs(plan.outputs)
    scenario = build_scenario(load.spec, quiet=False)
    csv_path, live = plan.outputs.csv, live_check(plan)
    outcome = run_load(
        load, scenario, metrics, progress=False, csv_path=csv_path, live=live, trace=True
    )
    values = loadt_values(
        outcome.snapshot,
        runbooks=len(load.spec.runbooks),
        warm_up=go_duration(load.config.warm_up),
        duration=duration_text(load.config, outcome.snapshot, interrupted=outcome.interrupted),
        duration_s=_rate_seconds(load.config, outcome),
        concurrent=figures.concurrent,
        max_rps=figures.max_rps,
    )
    return finish(plan, outcome, shape=_runn_json, values=values, live=live.thresholds)


def _rate_seconds(config: SessionConfig, outcome: Outcome) -> float:
    """runn divides by --duration; a run cut short by Ctrl-C, or one that ended with its
    --iterations, divides by what it ran."""
    snapshot = outcome.snapshot
    if outcome.interrupted or ran_all_iterations(config, snapshot):
        return snapshot.elapsed_s
    return config.duration or snapshot.elapsed_s


def _runn_json(values: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """runn's keys first, loadscope's whole report under "loadscope"."""
    return {**values, "loadscope": report}
