"""loadscope's engine: shared, instrumented HTTP/1.1 and HTTP/2 runners, virtual users and metrics.

Nothing here imports Textual or `tui`. The console and the command line drive a `Session`
(in-process) or an `EngineProcess` (a session in a child process) through the same controls.
The built-in target server is `loadscope.engine.target` (`TargetProcess`, `TargetOptions`).
"""

from __future__ import annotations

from ._config import (
    CloseReason,
    HttpVersion,
    RetireAt,
    ReuseMode,
    RunnerConfig,
    SessionConfig,
    Stage,
    State,
)
from ._loop import run_event_loop
from .control import EngineProcess, ScenarioSpec, WorkerController
from .diagnostics import (
    DetectorExtension,
    Diagnostics,
    GeneratorExtension,
    KernelExtension,
    PhaseExtension,
    PhaseSpec,
    attach_diagnostics,
    phase_specs,
)
from .metrics import (
    ConnectionsSnapshot,
    EventKind,
    EventRecord,
    GeneratorLoad,
    Histogram,
    HistogramData,
    KernelSnapshot,
    LatencySummary,
    PhaseResult,
    Snapshot,
    SocketCounts,
    StepSnapshot,
    TimelinePoint,
    WorkerSnapshot,
)
from .session import Session, SessionExtension
from .session.scenario import IterationFailed, RequestFailed, Scenario, UrlScenario

__all__ = [
    "CloseReason",
    "ConnectionsSnapshot",
    "DetectorExtension",
    "Diagnostics",
    "EngineProcess",
    "EventKind",
    "EventRecord",
    "GeneratorExtension",
    "GeneratorLoad",
    "Histogram",
    "HistogramData",
    "HttpVersion",
    "IterationFailed",
    "KernelExtension",
    "KernelSnapshot",
    "LatencySummary",
    "PhaseExtension",
    "PhaseResult",
    "PhaseSpec",
    "RequestFailed",
    "RetireAt",
    "ReuseMode",
    "RunnerConfig",
    "Scenario",
    "ScenarioSpec",
    "Session",
    "SessionConfig",
    "SessionExtension",
    "Snapshot",
    "SocketCounts",
    "Stage",
    "State",
    "StepSnapshot",
    "TimelinePoint",
    "UrlScenario",
    "WorkerController",
    "WorkerSnapshot",
    "attach_diagnostics",
    "phase_specs",
    "run_event_loop",
]
