"""A log-linear, HDR-style latency histogram.

Values are integer microseconds. Below 256 µs every value has its own bucket; above, each power
of two is split into 128 buckets, so a bucket is at most 1/128 (0.78%) of its value wide and the
midpoint we report is within 0.4% of any value in it. Histograms with the same layout merge by
adding counts, across windows, steps and processes.
"""

from __future__ import annotations

_SUB_BITS = 7
_SUB = 1 << _SUB_BITS  # 128 sub-buckets per power of two
_MAX_EXP = 34  # ~ 2^41 µs, 25 days
BUCKETS = (_MAX_EXP + 2) << _SUB_BITS
_MAX_VALUE = (1 << (_MAX_EXP + _SUB_BITS + 1)) - 1


def bucket_index(value: int) -> int:
    if value < 0:
        value = 0
    elif value > _MAX_VALUE:
        value = _MAX_VALUE
    exp = value.bit_length() - (_SUB_BITS + 1)
    if exp <= 0:
        return value
    return (exp << _SUB_BITS) + (value >> exp)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The lowest and highest value that land in bucket `index`."""
    if index < 2 * _SUB:
        return index, index
    exp = (index >> _SUB_BITS) - 1
    low = (index - (exp << _SUB_BITS)) << exp
    return low, low + (1 << exp) - 1


def bucket_value(index: int) -> float:
    low, high = bucket_bounds(index)
    return (low + high) / 2


class Histogram:
    """Counts of microsecond values. `record` is the hot path: a few integer operations."""

    __slots__ = ("counts", "max", "min", "n", "total")
    counts: list[int]
    n: int
    total: int
    min: int
    max: int

    def __init__(self) -> None:
        self.reset()

    def record(self, value: int) -> None:
        if value < 0:
            value = 0
        exp = value.bit_length() - 8
        if exp <= 0:
            self.counts[value] += 1
        elif exp <= _MAX_EXP:
            self.counts[(exp << 7) + (value >> exp)] += 1
        else:
            self.counts[bucket_index(value)] += 1
        if self.n == 0 or value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.n += 1
        self.total += value

    def merge(self, other: Histogram) -> None:
        if other.n == 0:
            return
        mine, theirs = self.counts, other.counts
        for i in range(bucket_index(other.min), bucket_index(other.max) + 1):
            c = theirs[i]
            if c:
                mine[i] += c
        if self.n == 0 or other.min < self.min:
            self.min = other.min
        if other.max > self.max:
            self.max = other.max
        self.n += other.n
        self.total += other.total

    def subtract(self, other: Histogram) -> None:
        """Remove `other`, which was merged in earlier (sliding windows). min/max are recomputed."""
        if other.n == 0:
            return
        mine, theirs = self.counts, other.counts
        for i in range(bucket_index(other.min), bucket_index(other.max) + 1):
            c = theirs[i]
            if c:
                mine[i] -= c
        self.n -= other.n
        self.total -= other.total
        self._recompute_bounds()

    def _recompute_bounds(self) -> None:
        if self.n <= 0:
            self.n = self.total = self.min = self.max = 0
            return
        lo_index = bucket_index(self.min)
        hi_index = bucket_index(self.max)
        counts = self.counts
        while lo_index <= hi_index and counts[lo_index] == 0:
            lo_index += 1
        while hi_index >= lo_index and counts[hi_index] == 0:
            hi_index -= 1
        self.min = max(self.min, bucket_bounds(lo_index)[0])
        self.max = min(self.max, bucket_bounds(hi_index)[1])

    def reset(self) -> None:
        self.counts = [0] * BUCKETS
        self.n = 0
        self.total = 0
        self.min = 0
        self.max = 0

    def copy(self) -> Histogram:
        clone = Histogram()
        clone.merge(self)
        return clone

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    def percentile(self, q: float) -> float:
        """The value at quantile `q` (0..100), as its bucket's midpoint clamped to [min, max]."""
        return self.percentiles((q,))[0]

    def percentiles(self, qs: tuple[float, ...] | list[float]) -> list[float]:
        if self.n == 0:
            return [0.0] * len(qs)
        ranks = sorted((max(1, -(-q * self.n // 100)), pos) for pos, q in enumerate(qs))
        result = [0.0] * len(qs)
        counts = self.counts
        seen = 0
        r = 0
        for i in range(bucket_index(self.min), bucket_index(self.max) + 1):
            c = counts[i]
            if not c:
                continue
            seen += c
            while r < len(ranks) and seen >= ranks[r][0]:
                result[ranks[r][1]] = min(max(bucket_value(i), self.min), self.max)
                r += 1
            if r == len(ranks):
                break
        while r < len(ranks):
            result[ranks[r][1]] = float(self.max)
            r += 1
        return result

    def nonzero(self) -> list[tuple[int, int]]:
        """(bucket index, count) of every non-empty bucket, in order: the plain-data form."""
        if self.n == 0:
            return []
        counts = self.counts
        lo, hi = bucket_index(self.min), bucket_index(self.max)
        return [(i, counts[i]) for i in range(lo, hi + 1) if counts[i]]

    @classmethod
    def from_nonzero(
        cls,
        buckets: list[tuple[int, int]] | tuple[tuple[int, int], ...],
        minimum: int,
        maximum: int,
        total: int,
    ) -> Histogram:
        h = cls()
        for i, c in buckets:
            h.counts[i] += c
            h.n += c
        h.min, h.max, h.total = minimum, maximum, total
        return h
