"""Metrics: mergeable HDR-style histograms, per-second series, immutable snapshots and reports."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

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
    "Histogram": "._histogram",
    "SHARED_EVENT_KINDS": "._merge",
    "WorkerPart": "._merge",
    "all_stopped": "._merge",
    "merge_histograms": "._merge",
    "merge_snapshots": "._merge",
    "merge_timelines": "._merge",
    "Metrics": "._metrics",
    "StepStats": "._metrics",
    "ConnectionsSnapshot": "._snapshot",
    "ErrorSnapshot": "._snapshot",
    "EventKind": "._snapshot",
    "EventRecord": "._snapshot",
    "GeneratorLoad": "._snapshot",
    "HistogramData": "._snapshot",
    "KernelSnapshot": "._snapshot",
    "LatencySummary": "._snapshot",
    "MixRow": "._snapshot",
    "PhaseResult": "._snapshot",
    "Snapshot": "._snapshot",
    "SocketCounts": "._snapshot",
    "StepSnapshot": "._snapshot",
    "TimelinePoint": "._snapshot",
    "Warning": "._snapshot",
    "WorkerSnapshot": "._snapshot",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
