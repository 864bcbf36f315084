"""loadscope's engine: shared, instrumented HTTP/1.1 and HTTP/2 runners, virtual users and metrics.

Nothing here imports Textual or `tui`. The console and the command line drive a `Session`
(in-process) or an `EngineProcess` (a session in a child process) through the same controls.
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
)
from ._diagnostics import (
    DetectorExtension,
    Diagnostics,
    GeneratorExtension,
    KernelExtension,
    attach_diagnostics,
)
from ._histogram import Histogram
from ._phases import PhaseExtension, PhaseSpec, phase_specs
from ._session import Session, SessionExtension, State
from ._snapshot import (
    ConnectionsSnapshot,
    EventRecord,
    GeneratorLoad,
    HistogramData,
    KernelSnapshot,
    LatencySummary,
    PhaseResult,
    Snapshot,
    SocketCounts,
    StepSnapshot,
    TimelinePoint,
)
from .scenario import IterationFailed, RequestFailed, Scenario, UrlScenario

__all__ = [
    "CloseReason",
    "ConnectionsSnapshot",
    "DetectorExtension",
    "Diagnostics",
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
    "attach_diagnostics",
    "phase_specs",
]
