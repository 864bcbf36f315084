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
from ._histogram import Histogram
from ._session import Session, SessionExtension, State
from ._snapshot import (
    ConnectionsSnapshot,
    EventRecord,
    HistogramData,
    LatencySummary,
    Snapshot,
    StepSnapshot,
    TimelinePoint,
)
from .scenario import IterationFailed, RequestFailed, Scenario, UrlScenario

__all__ = [
    "CloseReason",
    "ConnectionsSnapshot",
    "EventRecord",
    "Histogram",
    "HistogramData",
    "HttpVersion",
    "IterationFailed",
    "LatencySummary",
    "RequestFailed",
    "RetireAt",
    "ReuseMode",
    "RunnerConfig",
    "Scenario",
    "Session",
    "SessionConfig",
    "SessionExtension",
    "Snapshot",
    "Stage",
    "State",
    "StepSnapshot",
    "TimelinePoint",
    "UrlScenario",
]
