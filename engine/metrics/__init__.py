"""Metrics: mergeable HDR-style histograms, per-second series, immutable snapshots and reports."""

import importlib
from typing import TYPE_CHECKING

# Imported when first used (`__getattr__`): one process's run needs no merging of workers'
# snapshots (`_merge`).
if TYPE_CHECKING:
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

_EXPORTS = {
    "Histogram": ("._histogram", "Histogram"),
    "SHARED_EVENT_KINDS": ("._merge", "SHARED_EVENT_KINDS"),
    "WorkerPart": ("._merge", "WorkerPart"),
    "all_stopped": ("._merge", "all_stopped"),
    "merge_histograms": ("._merge", "merge_histograms"),
    "merge_snapshots": ("._merge", "merge_snapshots"),
    "merge_timelines": ("._merge", "merge_timelines"),
    "Metrics": ("._metrics", "Metrics"),
    "StepStats": ("._metrics", "StepStats"),
    "ConnectionsSnapshot": ("._snapshot", "ConnectionsSnapshot"),
    "ErrorSnapshot": ("._snapshot", "ErrorSnapshot"),
    "EventKind": ("._snapshot", "EventKind"),
    "EventRecord": ("._snapshot", "EventRecord"),
    "GeneratorLoad": ("._snapshot", "GeneratorLoad"),
    "HistogramData": ("._snapshot", "HistogramData"),
    "KernelSnapshot": ("._snapshot", "KernelSnapshot"),
    "LatencySummary": ("._snapshot", "LatencySummary"),
    "MixRow": ("._snapshot", "MixRow"),
    "PhaseResult": ("._snapshot", "PhaseResult"),
    "Snapshot": ("._snapshot", "Snapshot"),
    "SocketCounts": ("._snapshot", "SocketCounts"),
    "StepSnapshot": ("._snapshot", "StepSnapshot"),
    "TimelinePoint": ("._snapshot", "TimelinePoint"),
    "Warning": ("._snapshot", "Warning"),
    "WorkerSnapshot": ("._snapshot", "WorkerSnapshot"),
}


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


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
