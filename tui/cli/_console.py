"""`loadscope console` and `loadscope demo`: the live console over an engine process."""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...engine import Session, Snapshot
from ...engine.control import EngineProcess, WorkerController
from ...engine.metrics.report import redact_snapshot
from ...engine.redact import redact_text
from ..describe import planned_seconds
from ..limits import raise_open_files_limit
from ..live_thresholds import abort_line
from ..outputs.files import CsvTimeline
from ..outputs.reasons import silence_reason
from ..saving import ReportRenderer
from . import _signals
from ._args import DEFAULT_SAVE_DIR
from ._errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE, UsageError
from ._extensions import setup_child_session
from ._loadt import threshold_names
from ._options import LoadPlan, adopt_runbook_phases, split
from ._outcome import UNREACHABLE_KINDS
from ._outputs import (
    MetricsAddress,
    check_outputs,
    serve_merged_metrics,
    serve_metrics,
    write_html_report,
)
from ._plan import RunPlan
from ._run import build_scenario, check_descriptors, full_report, live_check, runn_values
from ._text import render_text
from ._thresholds import LiveThresholds, Thresholds
from ._workers import worker_controller

if TYPE_CHECKING:
    from ..app import ConsoleOptions


def setup_child_with_metrics(
    plan: LoadPlan,
    session: Session,
    csv_path: str | None = None,
    metrics: MetricsAddress | None = None,
) -> None:
    """Runs in the engine process: what `setup_child_session` does, and `/metrics` (served by
    the process that holds the session, until it exits)."""
    setup_child_session(plan, session, csv_path=csv_path)
    serve_metrics(metrics, session)


def report_renderer(
    plan: LoadPlan, thresholds: Thresholds | None = None, live: LiveThresholds | None = None
) -> ReportRenderer:
    """The console's final report: the same text and JSON as `loadscope run` gives, with the
    thresholds' results (and, checked live, when each first failed and what stopped the run)."""
    checks = thresholds or Thresholds([])

    def render(snapshot: Snapshot, interrupted: bool = False) -> tuple[str, dict[str, Any]]:
        snapshot = redact_snapshot(snapshot)
        report = full_report(plan, snapshot, interrupted=interrupted)
        runn = runn_values(plan, snapshot, interrupted=interrupted)
        report["thresholds"] = checks.evaluate(threshold_names(runn, report)).as_report()
        (live or LiveThresholds(checks, None)).annotate(report)  # as `run` reports them
        report["interrupted"] = interrupted
        return render_text(snapshot, report, runn), report

    return render


def _engine(
    plan: LoadPlan, csv_path: str | None, metrics: MetricsAddress | None = None
) -> EngineProcess | WorkerController:
    """One engine process, or with --workers/--cluster the workers, merged (CSV: merged too)."""
    if not split(plan):
        setup = functools.partial(
            setup_child_with_metrics, plan, csv_path=csv_path, metrics=metrics
        )
        return EngineProcess(plan.spec, plan.config, setup=setup)
    controller = worker_controller(plan, functools.partial(setup_child_session, plan))
    if csv_path:
        controller.tick_listeners.append(CsvTimeline(csv_path).write)
    serve_merged_metrics(metrics, controller)  # lives as long as this process
    return controller


def ensure_terminal(headless: str = "`loadscope run`") -> None:
    """`headless`: the command that does the same without a terminal."""
    if not sys.stdout.isatty() and not os.environ.get("LOADSCOPE_FORCE_CONSOLE"):
        raise UsageError(f"the console needs a terminal; use {headless} for headless runs")


def console_options(run: RunPlan, label: str) -> ConsoleOptions:
    """What the console is told of the run: where reports go, the level it starts at, the
    stages (which set the level) and the planned time."""
    from ..app import ConsoleOptions  # Textual loads with the console only

    config, outputs = run.load.config, run.outputs
    return ConsoleOptions(
        label=redact_text(label),
        summary_json=outputs.out,
        save_dir=Path(outputs.save_dir or DEFAULT_SAVE_DIR),
        open_model=config.open_model,
        concurrency=config.concurrency,
        rate=config.rate or 0.0,
        reuse_mode=config.reuse_mode.value,
        connect_timeout=config.connect_timeout,
        staged=bool(config.stages),
        planned_s=planned_seconds(config),
    )


def run_console(run: RunPlan, label: str) -> int:
    from ..app import LoadscopeApp

    plan, outputs, thresholds = run.load, run.outputs, run.thresholds
    metrics = check_outputs(outputs)
    ensure_terminal()
    engine = _engine(plan, outputs.csv, metrics)
    options = console_options(run, label)
    live = live_check(run)
    render = report_renderer(plan, thresholds, live.thresholds)
    app = LoadscopeApp(engine, options, render, live=live if thresholds.expressions else None)
    if _signals.interrupted():  # stopped while starting: no console, no load
        print("loadscope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    raise_open_files_limit()
    try:
        engine.start()
    except RuntimeError as exc:  # Ray did not start or could not place the workers
        raise UsageError(str(exc)) from None
    refused = first_connections_refused(engine, plan.config.concurrency)
    if refused:  # `run`'s rule: a target that is not there is exit 2, before the dashboard
        engine.stop()
        engine.wait_final(plan.config.stop_grace + 5)
        engine.close()
        print(f"loadscope: target unreachable: {refused}", file=sys.stderr)
        return EXIT_USAGE
    try:
        code = app.run()
    finally:
        if not engine.finished:
            engine.stop()
            engine.wait_final(plan.config.stop_grace + 5)
        app.rewrite_summary_on_exit()
        engine.close()
    if engine.exit_message and engine.final is None:
        print(f"loadscope: engine failed: {engine.exit_message}", file=sys.stderr)
        return 2
    html_path = outputs.html
    if html_path and engine.final is not None:
        _, final_report = render(engine.final, app.interrupted)
        write_html_report(html_path, engine.final, final_report)
        app.saved_paths.append(Path(html_path))
    for path in dict.fromkeys(app.saved_paths):
        print(f"saved {path}")
    for failure in dict.fromkeys(app.write_failures):
        print(f"loadscope: {failure}", file=sys.stderr)
    if app.write_failures:
        return EXIT_USAGE
    unreachable = _never_reached(engine.final)
    reason = silence_reason(engine.final, plan.config.connect_timeout) if engine.final else ""
    if unreachable:
        print(f"loadscope: target unreachable: {unreachable}", file=sys.stderr)
        return EXIT_USAGE
    if reason:  # nothing was answered: `run`'s rule, exit 2
        print(f"loadscope: {reason}", file=sys.stderr)
        return EXIT_USAGE
    if thresholds.expressions and engine.final is not None:
        _, report = render(engine.final, app.interrupted)
        failures = [result["why"] for result in report["thresholds"] if not result["passed"]]
        for line in failures:
            print(f"threshold failed: {line}", file=sys.stderr)
        if report["aborted_by"]:
            print(abort_line(report["aborted_by"]), file=sys.stderr)
        if failures or report["aborted_by"]:
            return EXIT_THRESHOLD
    return code if isinstance(code, int) else EXIT_OK


ENGINE_START_WAIT = 30.0  # spawning the engine process can take seconds on a busy machine
FIRST_CONNECTIONS_WAIT = 5.0  # from its first snapshot: a target still silent is the dashboard's


def first_connections_refused(engine: EngineProcess | WorkerController, concurrency: int) -> str:
    """Wait for the first connections: the message when every one failed as `run` counts it
    unreachable (refused, DNS, TLS...), or "" once one connects (or nothing is known yet)."""
    needed = max(1, min(concurrency or 1, 3))
    deadline = time.monotonic() + ENGINE_START_WAIT
    seen_first = False
    while time.monotonic() < deadline and not engine.finished:
        snapshot = engine.updates()
        if snapshot is not None:
            if not seen_first:
                seen_first = True
                deadline = time.monotonic() + FIRST_CONNECTIONS_WAIT
            if snapshot.connections.opened_total or snapshot.requests_total > snapshot.errors_total:
                return ""
            kinds = {error.kind for error in snapshot.errors}
            if snapshot.errors_total >= needed and kinds and kinds <= UNREACHABLE_KINDS:
                return _located(snapshot, snapshot.errors[0].last_message)
        time.sleep(0.05)
    return ""


def _located(snapshot: Snapshot, message: str) -> str:
    return message if "://" in message else f"{', '.join(snapshot.targets)}: {message}"


def cmd_console(plan: RunPlan) -> int:
    check_descriptors(plan.load.config)
    check_outputs(plan.outputs)
    scenario = build_scenario(plan.load.spec, quiet=False)  # bad input: exit 2 before the console
    plan = plan.with_load(adopt_runbook_phases(plan.load, scenario))
    spec = plan.load.spec
    return run_console(plan, plan.label or ", ".join(spec.runbooks) or (spec.url or ""))


def _never_reached(final: Snapshot | None) -> str:
    """The last connect error, if not a single response came back and every error says the
    target was not there (the console keeps trying while it runs; its exit code says so)."""
    if final is None or not final.requests_total or final.errors_total < final.requests_total:
        return ""
    if not final.errors or any(e.kind not in UNREACHABLE_KINDS for e in final.errors):
        return ""
    return final.errors[0].last_message
