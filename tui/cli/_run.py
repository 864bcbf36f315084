"""`loadscope run`: a headless session in this process, with reports and exit codes."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...engine import (
    Scenario,
    Session,
    SessionConfig,
    Snapshot,
    TimelinePoint,
    run_event_loop,
)
from ...engine.control import ScenarioSpec
from ...engine.durations import go_duration
from ...engine.metrics.report import build_report, redact_snapshot
from ...engine.redact import add_secrets
from ..describe import cut_by, duration_text, peak_vus, run_description
from ..limits import vu_limit_problem
from ..live_thresholds import ABORT_CUT_S, abort_line
from ..outputs.files import CsvTimeline, dumps, write_failure
from ..outputs.reasons import silence_reason
from . import _signals
from ._errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE, UsageError
from ._extensions import attach_extensions
from ._loadt import loadt_values, threshold_names
from ._options import LoadPlan, adopt_runbook_phases, split
from ._outcome import UNREACHABLE_KINDS, Outcome
from ._outputs import (
    MetricsAddress,
    check_outputs,
    serve_metrics,
    write_html_report,
    write_json_report,
)
from ._plan import RunPlan
from ._progress import show_progress
from ._step_trace import show_steps
from ._target_lists import note_target_list_error
from ._text import render_text, summary_line
from ._thresholds import LiveCheck, LiveThresholds


def build_scenario(spec: ScenarioSpec, *, quiet: bool) -> Scenario:
    """Load and compile once, before anything is sent; bad input is exit code 2."""
    from ...engine.runbook import RunbookError

    try:
        scenario = spec.build()
    except UsageError:
        raise
    except RunbookError as exc:
        raise UsageError(str(exc)) from None
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    add_secrets(getattr(scenario, "secret_values", ()))
    for warning in getattr(scenario, "warnings", ()):
        if not quiet:
            print(warning, file=sys.stderr)
    return scenario


@dataclass
class _DriveState:
    interrupts: int = 0  # Ctrl-C / SIGTERM seen: the first stops, the second cuts
    unreachable: str | None = None
    cut_by_user: bool = False


async def drive(
    session: Session,
    *,
    progress: bool,
    csv_path: str | None,
    live: LiveCheck | None = None,
) -> Outcome:
    """Run the session to its end, or to Ctrl-C/SIGTERM; stop early if the target is down."""
    csv = CsvTimeline(csv_path) if csv_path else None
    if csv is not None:
        session.tick_listeners.append(measured_only(session, csv.write))
    state = _DriveState(interrupts=int(_signals.interrupted()))
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        state.interrupts += 1
        if state.interrupts == 1:
            session.stop()
        else:
            state.cut_by_user = state.cut_by_user or not session.aborting
            session.abort()

    earlier = {sig: signal.getsignal(sig) for sig in _signals.STOP_SIGNALS}
    for sig in _signals.STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal)
    helpers = [loop.create_task(_watch_reachability(session, state))]
    if live is not None and live.thresholds.active:
        helpers.append(loop.create_task(_watch_thresholds(session, live)))
    if progress:
        helpers.append(loop.create_task(show_progress(session)))
    try:
        if state.interrupts:  # a signal came while starting up: report a run that never began
            await session.shutdown()
        else:
            await session.run()
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        for sig, handler in earlier.items():
            loop.remove_signal_handler(sig)
            # a signal while the report is written still counts
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if csv is not None:
            csv.close()
    snapshot = session.snapshot(timeline=None)
    return Outcome(
        cut_by(snapshot, "a second Ctrl-C") if state.cut_by_user else snapshot,
        interrupted=bool(state.interrupts),
        unreachable=state.unreachable,
        write_failures=[csv.failure] if csv is not None and csv.failure else [],
        cut_by_user=state.cut_by_user,
    )


async def _watch_thresholds(session: Session, live: LiveCheck) -> None:
    """Each second, the thresholds over the measured numbers so far; a failure that aborts
    stops the run, and cuts what still runs a second later (it stops within 2 s)."""
    while True:
        await asyncio.sleep(1.0)
        if session.warming_up:
            continue
        if live.check(session.snapshot(timeline=None)) is not None:
            session.stop()
            await asyncio.sleep(ABORT_CUT_S)
            session.abort()
            return


def live_check(plan: RunPlan) -> LiveCheck:
    def names(snapshot: Snapshot) -> dict[str, float | None]:
        return threshold_names(runn_values(plan.load, snapshot), build_report(snapshot))

    return LiveCheck(LiveThresholds(plan.thresholds, plan.abort), names)


def measured_only(
    session: Session, write: Callable[[TimelinePoint], None]
) -> Callable[[TimelinePoint], None]:
    """A tick listener that leaves out the warm-up's seconds, as the report does."""

    def listener(point: TimelinePoint) -> None:
        if not session.warming_up:
            write(point)

    return listener


async def _watch_reachability(session: Session, state: _DriveState) -> None:
    """Learn from the first real connections whether the target is there at all."""
    metrics = session.metrics
    needed = max(1, min(session.concurrency or 1, 3))
    while True:
        await asyncio.sleep(0.05)
        answered = metrics.requests_new + metrics.requests_reused
        if answered:
            return
        kinds = set(metrics.error_kinds)
        if metrics.errors >= needed and kinds and kinds <= UNREACHABLE_KINDS:
            kind = metrics.error_kinds.most_common(1)[0][0]
            state.unreachable = unreachable_message(session, kind)
            session.stop()
            return


def unreachable_message(session: Session, kind: str) -> str:
    message = session.metrics.last_error.get(kind, kind)
    if "://" not in message:  # say where, unless the message does
        message = f"{', '.join(session.scenario.targets())}: {message}"
    if kind == "tls_verify":
        message += " (use --insecure, or a runbook runner with cacert)"
    return message


def check_load(plan: LoadPlan) -> None:
    config = plan.config
    if not config.open_model and not config.stages and config.concurrency == 0:
        raise UsageError("-c/--concurrency 0 starts no virtual users; give -c 1 or more")
    check_descriptors(config)


def check_descriptors(config: SessionConfig, *, strict: bool = True) -> None:
    """The VUs the run may reach must fit this machine (open files, ephemeral ports), or, when
    `strict` (the VU count is what the user asked for), exit 2 before anything is sent."""
    if config.open_model:
        peak = config.effective_max_vus()
    else:
        peak = int(max([config.concurrency, *(stage.target for stage in config.stages)]))
    problem = vu_limit_problem(peak)
    if problem and strict:
        raise UsageError(f"{peak:,} VUs {problem}; lower -c/--max-vus or raise the limit")


def cmd_run(plan: RunPlan) -> int:
    check_load(plan.load)
    metrics = check_outputs(plan.outputs)
    scenario = build_scenario(plan.load.spec, quiet=plan.outputs.quiet)
    plan = plan.with_load(adopt_runbook_phases(plan.load, scenario))
    load, csv_path = plan.load, plan.outputs.csv
    progress = sys.stderr.isatty() and not plan.outputs.quiet
    live = live_check(plan)
    outcome = run_load(
        load, scenario, metrics, progress=progress, csv_path=csv_path, live=live,
        trace=not plan.outputs.quiet,
    )  # fmt: skip
    note_target_list_error(load.spec, outcome)
    return finish(plan, outcome, live=live.thresholds)


def run_load(
    load: LoadPlan,
    scenario: Scenario,
    metrics: MetricsAddress | None,
    *,
    progress: bool,
    csv_path: str | None,
    live: LiveCheck,
    trace: bool,
) -> Outcome:
    """The load, in worker processes when it is split, else in this one; with `trace`, the
    `--iterations` trace of every step."""
    if split(load):
        from ._workers import drive_workers  # worker processes: multiprocessing, only then

        return drive_workers(
            load,
            progress=progress,
            csv_path=csv_path,
            metrics=metrics,
            live=live.check,
            trace_steps=trace,
        )
    session = Session(load.config, scenario)
    if trace:
        show_steps(scenario, load.config.max_iterations)
    attach_extensions(session, load)
    return run_with_metrics(session, metrics, progress=progress, csv_path=csv_path, live=live)


def run_with_metrics(
    session: Session,
    address: MetricsAddress | None,
    *,
    progress: bool,
    csv_path: str | None,
    live: LiveCheck | None = None,
) -> Outcome:
    """`drive` the session, with `/metrics` served from before its start to its end."""
    server = serve_metrics(address, session)
    try:
        outcome: Outcome = run_event_loop(
            drive(session, progress=progress, csv_path=csv_path, live=live)
        )
    finally:
        if server is not None:
            server.close()
    return outcome


def runn_values(plan: LoadPlan, snapshot: Snapshot, *, interrupted: bool = False) -> dict[str, Any]:
    """runn's block for a `run` (and the console): the time it ran, as runn prints durations."""
    config = plan.config
    return loadt_values(
        snapshot,
        runbooks=max(1, len(plan.spec.runbooks)),
        warm_up=go_duration(config.warm_up),
        duration=duration_text(config, snapshot, interrupted=interrupted),
        duration_s=snapshot.elapsed_s,
        concurrent=peak_vus(snapshot) if snapshot.mode == "closed" else snapshot.max_vus,
        max_rps=int(config.rate or 0),
    )


def full_report(plan: LoadPlan, snapshot: Snapshot, *, interrupted: bool = False) -> dict[str, Any]:
    """The JSON report of a run: the measurements, then what the run was."""
    report = build_report(snapshot)
    report.update(run_description(plan.config, snapshot, interrupted=interrupted))
    return report


def finish(
    plan: RunPlan,
    outcome: Outcome,
    *,
    shape: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
    values: dict[str, Any] | None = None,
    live: LiveThresholds | None = None,
) -> int:
    load, outputs = plan.load, plan.outputs
    snapshot = outcome.snapshot = redact_snapshot(outcome.snapshot)
    report = full_report(load, snapshot, interrupted=outcome.interrupted)
    runn = (
        values
        if values is not None
        else runn_values(load, snapshot, interrupted=outcome.interrupted)
    )
    verdict = plan.thresholds.evaluate(threshold_names(runn, report))
    report["thresholds"] = verdict.as_report()
    (live or LiveThresholds(plan.thresholds, plan.abort)).annotate(report)
    report["interrupted"] = outcome.interrupted
    document = shape(runn, report) if shape else report
    if outputs.out:
        try:
            write_json_report(outputs.out, document)
        except OSError as exc:  # checked at start, yet lost since (disk full, directory gone)
            outcome.write_failures.append(write_failure(outputs.out, exc))
    try:
        write_html_report(outputs.html, snapshot, report)
    except UsageError as exc:  # the same: written at the end, the report still goes to stdout
        outcome.write_failures.append(str(exc).removeprefix("--html: "))
    silence = ""
    if not outcome.interrupted and not outcome.unreachable:
        silence = silence_reason(snapshot, load.config.connect_timeout)
        if silence:
            print(f"loadscope: {silence}", file=sys.stderr)
    code = _report(plan, outcome, document, report, runn, verdict.failures)
    if silence and code == EXIT_OK:  # the README's rule: a run with no answer is exit 2
        code = EXIT_USAGE
    for failure in outcome.write_failures:
        print(f"loadscope: {failure}", file=sys.stderr)
    return EXIT_USAGE if outcome.write_failures else code


def _report(
    plan: RunPlan,
    outcome: Outcome,
    document: dict[str, Any],
    report: dict[str, Any],
    runn: dict[str, Any],
    failures: list[str],
) -> int:
    """The report on stdout, the verdict on stderr, and the exit code they mean."""
    snapshot = outcome.snapshot
    if outcome.unreachable:  # bad input: the error line says it all (the file has the rest)
        print(f"loadscope: target unreachable: {outcome.unreachable}", file=sys.stderr)
        return EXIT_USAGE
    stream = plan.outputs.report_stream
    if plan.outputs.format == "json":
        print(dumps(document))
    elif plan.outputs.quiet:
        print(summary_line(report), file=stream)
    else:
        print(render_text(snapshot, report, runn), end="", file=stream)
    for line in failures:
        print(f"threshold failed: {line}", file=sys.stderr)
    aborted = report.get("aborted_by")
    if aborted:
        print(abort_line(aborted), file=sys.stderr)
        return EXIT_THRESHOLD
    if outcome.interrupted:
        written = plan.outputs.out and not outcome.write_failures
        print(
            "loadscope: interrupted; report written" if written else "loadscope: interrupted",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return EXIT_THRESHOLD if failures else EXIT_OK
