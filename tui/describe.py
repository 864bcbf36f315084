"""What the run was, for the report: its model, its peak VUs, its rate or stages, and how long
it was planned to run. Reported beside the measurements, so no number claims more than it did."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..engine import SessionConfig, Snapshot
from ..engine.durations import go_duration
from .format import elapsed_duration


def load_model(config: SessionConfig, snapshot: Snapshot | None = None) -> str:
    """k6's names for the four shapes: a fixed or ramping number of VUs, or of arrivals; and
    k6's `externally-controlled` once the VUs or the rate were changed by hand (the console's
    keys), whatever the run started as."""
    if snapshot is not None and snapshot.level_set_by_hand:
        return "externally-controlled"
    if config.open_model:
        return "ramping-arrival-rate" if config.stages else "constant-arrival-rate"
    return "ramping-vus" if config.stages else "constant-vus"


def planned_seconds(config: SessionConfig) -> float | None:
    """The measured time the run was set up for; None when it runs until stopped."""
    if config.duration:
        return config.duration
    if config.stages:
        return sum(stage.duration for stage in config.stages)
    return None


def peak_vus(snapshot: Snapshot) -> int:
    """The most VUs running at once (the engine counts them; a scripted snapshot may not)."""
    levels = [point.concurrency for point in snapshot.timeline]
    return (
        int(max([snapshot.peak_vus, *levels])) if snapshot.mode == "closed" else snapshot.peak_vus
    )


def stopped_early(config: SessionConfig, snapshot: Snapshot, interrupted: bool) -> bool:
    """Interrupted, or ended before its planned time for another reason than having run all
    of its `--iterations`."""
    if interrupted:
        return True
    if ran_all_iterations(config, snapshot):
        return False
    planned = planned_seconds(config)
    return planned is not None and seconds_run(snapshot) < planned - 0.5


def seconds_run(snapshot: Snapshot) -> float:
    """How long the run went on by its plan's clock, which starts with the statistics (at the
    start, or when the warm-up ends). A reset by hand restarts the statistics' clock only: the
    plan's time is then the session's, less the warm-up."""
    if snapshot.stats_since != "reset":
        return snapshot.elapsed_s
    return max(snapshot.elapsed_s, snapshot.session_s - snapshot.warm_up_s)


def run_description(
    config: SessionConfig, snapshot: Snapshot, *, interrupted: bool = False
) -> dict[str, Any]:
    return {
        "model": load_model(config, snapshot),
        "peak_vus": peak_vus(snapshot),
        "stages": [
            {"duration_s": stage.duration, "target": stage.target} for stage in config.stages
        ],
        "planned_duration_s": planned_seconds(config),
        "stopped_early": stopped_early(config, snapshot, interrupted),
    }


def duration_text(config: SessionConfig, snapshot: Snapshot, *, interrupted: bool) -> str:
    """runn's `duration`: the planned time, or the time it ran when it was cut short."""
    planned = planned_seconds(config)
    if planned is None or ran_all_iterations(config, snapshot):
        return elapsed_duration(snapshot.elapsed_s)
    if not stopped_early(config, snapshot, interrupted):
        return go_duration(planned)
    return elapsed_duration(snapshot.elapsed_s)  # the text adds the plan (see _text)


def ran_all_iterations(config: SessionConfig, snapshot: Snapshot) -> bool:
    """An `--iterations N` run that started all N: it ends when they do, not at a time."""
    cap = config.max_iterations
    return cap is not None and snapshot.iterations_total >= cap


GRACE_CUT = "cut at the end of the grace period"  # how the engine words a cut


def cut_by(snapshot: Snapshot, who: str) -> Snapshot:
    """The engine says in-flight work was cut "at the end of the grace period"; when a second
    Ctrl-C (or q) cut it before that, say so instead (`who`: "a second Ctrl-C")."""
    reason = f"cut by {who} before the grace period ended"
    errors = tuple(
        dataclasses.replace(e, last_message=e.last_message.replace(GRACE_CUT, reason))
        for e in snapshot.errors
    )
    failures = tuple((r.replace(GRACE_CUT, reason), n) for r, n in snapshot.failures)
    events = tuple(
        dataclasses.replace(e, message=e.message.replace("at the end of the grace", f"by {who}"))
        if e.kind == "abort"
        else e
        for e in snapshot.events
    )
    return dataclasses.replace(snapshot, errors=errors, failures=failures, events=events)
