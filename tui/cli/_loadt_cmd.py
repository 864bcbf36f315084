"""`loadscope loadt`: runn loadt's flags, defaults, text block and JSON keys, on the engine."""

from __future__ import annotations

import argparse
from typing import Any

from ...engine import Session, SessionConfig
from ...engine.control import ScenarioSpec
from ...engine.durations import go_duration
from ..describe import duration_text
from ._errors import UsageError
from ._extensions import attach_extensions
from ._loadt import loadt_values
from ._more_outputs import check_outputs
from ._network import apply_network_options
from ._options import (
    LoadPlan,
    adopt_worker_options,
    check_books,
    duration,
    iterations,
    labelled,
    limits,
    parse_vars,
    split,
)
from ._run import build_scenario, check_descriptors, finish, run_with_metrics
from ._thresholds import Thresholds
from ._workers import drive_workers

UNLIMITED_VUS = 10_000  # --load-concurrent 0: "unlimited", as in runn


def loadt_plan(args: argparse.Namespace) -> LoadPlan:
    if args.load_concurrent < 0:
        raise UsageError("--load-concurrent cannot be negative (0 means unlimited)")
    if args.max_rps < 0:
        raise UsageError("--max-rps cannot be negative (0 means unlimited)")
    if args.load_concurrent == 0 and args.max_rps == 0:
        raise UsageError("--load-concurrent 0 (unlimited) needs a --max-rps cap")
    run_for = duration(args.duration, "--duration")
    if run_for <= 0:
        raise UsageError("--duration must be more than 0")
    config = SessionConfig(
        concurrency=args.load_concurrent,
        duration=run_for,
        warm_up=duration(args.warm_up, "--warm-up"),
        max_iterations_per_second=float(args.max_rps) or None,
        max_iterations=iterations(args),
    )
    config.connect_timeout, config.max_body = limits(args)
    apply_network_options(args, config)  # the environment's proxies
    if args.load_concurrent == 0:  # unlimited VUs under the cap: iterations start on time
        config.rate = float(args.max_rps)
        config.max_vus = UNLIMITED_VUS
    check_books(args.books)
    books = labelled(list(args.books), args.label, None)
    spec = ScenarioSpec(runbooks=tuple(books), vars=parse_vars(args.var))
    plan = LoadPlan(spec, config)
    adopt_worker_options(plan, args)
    return plan


def cmd_loadt(args: argparse.Namespace) -> int:
    plan = loadt_plan(args)
    check_descriptors(plan.config, strict=args.load_concurrent > 0)  # 0: "unlimited"
    thresholds = Thresholds.compile(args.threshold)
    metrics = check_outputs(args)
    scenario = build_scenario(plan.spec, quiet=False)
    if split(plan):
        outcome = drive_workers(plan, progress=False, csv_path=args.csv, metrics=metrics)
    else:
        session = Session(plan.config, scenario)
        attach_extensions(session, plan)
        outcome = run_with_metrics(session, metrics, progress=False, csv_path=args.csv)
    values = loadt_values(
        outcome.snapshot,
        runbooks=len(plan.spec.runbooks),
        warm_up=go_duration(plan.config.warm_up),
        duration=duration_text(plan.config, outcome.snapshot, interrupted=outcome.interrupted),
        # runn divides by --duration; a run cut short by Ctrl-C divides by what it ran
        duration_s=(
            outcome.snapshot.elapsed_s
            if outcome.interrupted
            else plan.config.duration or outcome.snapshot.elapsed_s
        ),
        concurrent=args.load_concurrent,
        max_rps=args.max_rps,
    )
    args.quiet = False
    return finish(args, plan, outcome, thresholds, shape=_runn_json, values=values)


def _runn_json(values: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """runn's keys first, loadscope's whole report under "loadscope"."""
    return {**values, "loadscope": report}
