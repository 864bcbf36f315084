"""What every place a session runs shares: building it, applying a command, taking a snapshot.

A child process (`_process.py`) and a Ray actor (`_ray.py`) both run a session through these, so
a control means the same wherever the session is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._config import SessionConfig
from ..metrics import Snapshot
from ..session import Session, apply, build_snapshot, is_command
from ._spec import ScenarioSpec

LIVE_TIMELINE = 600  # seconds of timeline in a live snapshot; the final one has them all
# A worker's live snapshot carries only its latest seconds: the controller keeps the merged
# history, so each second crosses the process boundary a few times, not 600.
WORKER_LIVE_TIMELINE = 20


@dataclass(frozen=True, slots=True)
class WorkerRole:
    """Worker `worker` (1-based) of `count`: its iterations are numbered worker-1, +count, ...
    so `runn.i` is unique across workers, and its snapshots carry mergeable histograms."""

    worker: int
    count: int
    cpu: int | None = None  # the core a local worker is pinned to (None: wherever it is put)


def core_for(slot: int, workers_here: int) -> int | None:
    """The core for the `slot`-th (0-based) of `workers_here` workers on this machine: one each
    when there are enough cores for all of them, else None (the scheduler decides)."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without affinity
        return None
    if workers_here < 2 or workers_here > len(cores):
        return None
    return cores[slot]


def build_session(
    spec: ScenarioSpec,
    config: SessionConfig,
    setup: Callable[[Any], None] | None,
    role: WorkerRole | None,
) -> Session:
    session = Session(config, spec.build())
    if role is not None:
        session.crowd.numbering = (role.worker - 1, role.count)
    if setup is not None:
        setup(session)
    return session


def apply_control(session: Session, command: object) -> str | None:
    """Apply a command that came over a pipe or to an actor; what went wrong, as one line."""
    if not is_command(command):
        return f"not a control: {command!r}"
    try:
        apply(command, session)
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def take_snapshot(session: Session, role: WorkerRole | None, *, final: bool) -> Snapshot:
    if final:
        timeline = None
    else:
        timeline = LIVE_TIMELINE if role is None else WORKER_LIVE_TIMELINE
    return build_snapshot(session, timeline, mergeable=role is not None)
