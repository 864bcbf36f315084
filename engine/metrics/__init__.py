"""Metrics: mergeable HDR-style histograms, per-second series, immutable snapshots and reports."""

from ._histogram import Histogram
from ._merge import (
    SHARED_EVENT_KINDS,
    WorkerPart,
    all_stopped,
    merge_histograms,
    merge_snapshots,
    merge_timelines,
)
from ._metrics import Metrics, StepStats
from ._snapshot import (
    ConnectionsSnapshot,
    ErrorSnapshot,
    EventKind,
    EventRecord,
    GeneratorLoad,
    HistogramData,
    KernelSnapshot,
    LatencySummary,
    MixRow,
    PhaseResult,
    Snapshot,
    SocketCounts,
    StepSnapshot,
    TimelinePoint,
    Warning,
    WorkerSnapshot,
)

__all__ = [
    "SHARED_EVENT_KINDS",
    "ConnectionsSnapshot",
    "ErrorSnapshot",
    "EventKind",
    "EventRecord",
    "GeneratorLoad",
    "Histogram",
    "HistogramData",
    "KernelSnapshot",
    "LatencySummary",
    "Metrics",
    "MixRow",
    "PhaseResult",
    "Snapshot",
    "SocketCounts",
    "StepSnapshot",
    "StepStats",
    "TimelinePoint",
    "Warning",
    "WorkerPart",
    "WorkerSnapshot",
    "all_stopped",
    "merge_histograms",
    "merge_snapshots",
    "merge_timelines",
]
