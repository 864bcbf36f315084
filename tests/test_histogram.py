from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from loadscope.engine import Histogram, HistogramData
from loadscope.engine.metrics._histogram import BUCKETS, bucket_bounds, bucket_index


def exact_percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-q * len(ordered) // 100))
    return ordered[int(rank) - 1]


def test_buckets_are_contiguous_and_narrow() -> None:
    previous_high = -1
    for index in range(BUCKETS):
        low, high = bucket_bounds(index)
        assert low == previous_high + 1
        assert bucket_index(low) == index and bucket_index(high) == index
        assert (high - low) <= max(1, low) / 128
        previous_high = high


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=400))
def test_percentiles_within_one_percent(values: list[int]) -> None:
    h = Histogram()
    for v in values:
        h.record(v)
    for q in (0.0, 50.0, 90.0, 99.0, 99.9, 100.0):
        expected = exact_percentile(values, q) if q else min(values)
        got = h.percentile(q) if q else h.min
        assert abs(got - expected) <= 0.01 * expected + 1e-9
    assert h.min == min(values) and h.max == max(values) and h.n == len(values)


def test_merge_equals_recording_everything() -> None:
    rng = random.Random(7)
    a, b, both = Histogram(), Histogram(), Histogram()
    for _ in range(5000):
        v = int(rng.lognormvariate(7, 1.5))
        (a if rng.random() < 0.5 else b).record(v)
        both.record(v)
    a.merge(b)
    assert a.counts == both.counts
    assert (a.n, a.min, a.max, a.total) == (both.n, both.min, both.max, both.total)


def test_subtract_undoes_merge_for_sliding_windows() -> None:
    window, first, second = Histogram(), Histogram(), Histogram()
    for v in (100, 200, 300):
        first.record(v)
    for v in (1000, 2000):
        second.record(v)
    window.merge(first)
    window.merge(second)
    window.subtract(first)
    assert window.n == 2
    assert 990 <= window.min <= 1000 and window.max == 2000
    assert window.percentile(50) == window.percentile(0.1)


def test_plain_data_round_trip_is_mergeable_across_processes() -> None:
    h = Histogram()
    for v in range(1, 5000, 7):
        h.record(v)
    data = HistogramData.of(h)
    clone = data.to_histogram()
    assert clone.counts == h.counts and clone.n == h.n
    bins = data.log_bins(10)
    assert sum(count for _, _, count in bins) == h.n
    assert bins[0][0] <= h.min / 1000 and bins[-1][1] >= h.max / 1000 * 0.99


def test_empty_histogram_reports_zeros() -> None:
    h = Histogram()
    assert h.percentiles((50, 99)) == [0.0, 0.0]
    assert h.mean == 0.0
    assert HistogramData.of(h).log_bins() == []


def test_failure_reasons_stay_bounded() -> None:
    from loadscope.engine.metrics._metrics import MAX_FAILURE_REASONS, OTHER_FAILURES, Metrics

    metrics = Metrics()
    for i in range(MAX_FAILURE_REASONS + 300):
        metrics.record_iteration(100, f"step: test failed: id == {i}")
    assert len(metrics.failures) == MAX_FAILURE_REASONS + 1
    assert metrics.failures[OTHER_FAILURES] == 300
    assert metrics.iterations_failed == MAX_FAILURE_REASONS + 300
