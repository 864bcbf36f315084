"""`loadscope loadt`: runn loadt's flags, defaults, text block and JSON keys, on the engine."""

from __future__ import annotations

from typing import Any

from ...engine import Session
from ...engine.durations import go_duration
from ..describe import duration_text
from ._extensions import attach_extensions
from ._loadt import loadt_values
from ._options import split
from ._outputs import check_outputs
from ._plan import RunPlan
from ._run import build_scenario, check_descriptors, finish, live_check, run_with_metrics


def cmd_loadt(plan: RunPlan) -> int:
    load, figures = plan.load, plan.loadt
    assert figures is not None  # a loadt plan carries runn's figures
    check_descriptors(load.config, strict=figures.concurrent > 0)  # 0: "unlimited"
    metrics = check_outputs(plan.outputs)
    scenario = build_scenario(load.spec, quiet=False)
    csv_path, live = plan.outputs.csv, live_check(plan)
    if split(load):
        from ._workers import drive_workers  # worker processes: multiprocessing, only then

        outcome = drive_workers(
            load, progress=False, csv_path=csv_path, metrics=metrics, live=live.check
        )
    else:
        session = Session(load.config, scenario)
        attach_extensions(session, load)
        outcome = run_with_metrics(session, metrics, progress=False, csv_path=csv_path, live=live)
    values = loadt_values(
        outcome.snapshot,
        runbooks=len(load.spec.runbooks),
        warm_up=go_duration(load.config.warm_up),
        duration=duration_text(load.config, outcome.snapshot, interrupted=outcome.interrupted),
        # runn divides by --duration; a run cut short by Ctrl-C divides by what it ran
        duration_s=(
            outcome.snapshot.elapsed_s
            if outcome.interrupted
            else load.config.duration or outcome.snapshot.elapsed_s
        ),
        concurrent=figures.concurrent,
        max_rps=figures.max_rps,
    )
    return finish(plan, outcome, shape=_runn_json, values=values, live=live.thresholds)


def _runn_json(values: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """runn's keys first, loadscope's whole report under "loadscope"."""
    return {**values, "loadscope": report}
