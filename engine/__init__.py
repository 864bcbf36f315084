"""loadscope's engine: shared, instrumented HTTP/1.1 and HTTP/2 runners, virtual users and metrics.

Nothing here imports Textual or `tui`. The console and the command line drive a `Session`
(in-process) or an `EngineProcess` (a session in a child process) through the same controls:
`Controls`, whose `Command` values `apply` turns into calls wherever the session runs.
The built-in target server is `loadscope.engine.target` (`TargetProcess`, `TargetOptions`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

# The names are imported when first used (`__getattr__`), so a command that needs none of the
# engine (`--version`, `--help`) does not pay for importing it; type checkers see them here.
if TYPE_CHECKING:
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
    from .control import Controller, EngineProcess, ScenarioSpec, WorkerController
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
    from .session import (
        Abort,
        Command,
        CommandControls,
        ControlError,
        Controls,
        Pause,
        ResetStats,
        Resume,
        Session,
        SessionExtension,
        SetConcurrency,
        SetHttpVersion,
        SetRate,
        SetReuseMode,
        Stop,
        apply,
    )
    from .session.scenario import IterationFailed, RequestFailed, Scenario, UrlScenario

_EXPORTS = {
    "CloseReason": "._config",
    "HttpVersion": "._config",
    "RetireAt": "._config",
    "ReuseMode": "._config",
    "RunnerConfig": "._config",
    "SessionConfig": "._config",
    "Stage": "._config",
    "State": "._config",
    "run_event_loop": "._loop",
    "Controller": ".control",
    "EngineProcess": ".control",
    "ScenarioSpec": ".control",
    "WorkerController": ".control",
    "DetectorExtension": ".diagnostics",
    "Diagnostics": ".diagnostics",
    "GeneratorExtension": ".diagnostics",
    "KernelExtension": ".diagnostics",
    "PhaseExtension": ".diagnostics",
    "PhaseSpec": ".diagnostics",
    "attach_diagnostics": ".diagnostics",
    "phase_specs": ".diagnostics",
    "ConnectionsSnapshot": ".metrics",
    "EventKind": ".metrics",
    "EventRecord": ".metrics",
    "GeneratorLoad": ".metrics",
    "Histogram": ".metrics",
    "HistogramData": ".metrics",
    "KernelSnapshot": ".metrics",
    "LatencySummary": ".metrics",
    "PhaseResult": ".metrics",
    "Snapshot": ".metrics",
    "SocketCounts": ".metrics",
    "StepSnapshot": ".metrics",
    "TimelinePoint": ".metrics",
    "WorkerSnapshot": ".metrics",
    "Abort": ".session",
    "Command": ".session",
    "CommandControls": ".session",
    "ControlError": ".session",
    "Controls": ".session",
    "Pause": ".session",
    "ResetStats": ".session",
    "Resume": ".session",
    "Session": ".session",
    "SessionExtension": ".session",
    "SetConcurrency": ".session",
    "SetHttpVersion": ".session",
    "SetRate": ".session",
    "SetReuseMode": ".session",
    "Stop": ".session",
    "apply": ".session",
    "IterationFailed": ".session.scenario",
    "RequestFailed": ".session.scenario",
    "Scenario": ".session.scenario",
    "UrlScenario": ".session.scenario",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "Abort",
    "CloseReason",
    "Command",
    "CommandControls",
    "ConnectionsSnapshot",
    "ControlError",
    "Controller",
    "Controls",
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
    "Pause",
    "PhaseExtension",
    "PhaseResult",
    "PhaseSpec",
    "RequestFailed",
    "ResetStats",
    "Resume",
    "RetireAt",
    "ReuseMode",
    "RunnerConfig",
    "Scenario",
    "ScenarioSpec",
    "Session",
    "SessionConfig",
    "SessionExtension",
    "SetConcurrency",
    "SetHttpVersion",
    "SetRate",
    "SetReuseMode",
    "Snapshot",
    "SocketCounts",
    "Stage",
    "State",
    "StepSnapshot",
    "Stop",
    "TimelinePoint",
    "UrlScenario",
    "WorkerController",
    "WorkerSnapshot",
    "apply",
    "attach_diagnostics",
    "phase_specs",
    "run_event_loop",
]
