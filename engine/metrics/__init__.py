"""Metrics: mergeable HDR-style histograms, per-second series, immutable snapshots and reports."""
