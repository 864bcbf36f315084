"""Metrics: mergeable HDR-style histograms, per-second series, immutable snapshots and reports."""

from loadscope.engine.metrics._merge import (
    WorkerPart,
    merge_histograms,
    merge_snapshots,
    merge_timelines,
)

__all__ = ["WorkerPart", "merge_histograms", "merge_snapshots", "merge_timelines"]
