"""One snapshot from the snapshots of a session split over several workers.

Counts add up. Latency comes from histograms merged bucket by bucket (never from averaged
percentiles), so the merged p99 is the p99 of every request of every worker. Timelines add up
second by second; a second's own percentiles cannot be merged from percentiles, so a merged point
shows the highest of the workers' (an upper bound). Each worker's kernel view counts only its own
sockets, so the views add up, on one machine or across several; the TIME_WAIT peak is the sum of
the workers' peaks (an upper bound: they need not peak in the same second).
"""

from __future__ import annotations

import dataclasses
import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ._histogram import Histogram
from ._snapshot import (
    ConnectionsSnapshot,
    ErrorSnapshot,
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
    WorkerSnapshot,
)

STEP_HISTOGRAM_PREFIX = "step:"  # a step's histogram in Snapshot.histograms

# Events every worker logs alike, because the controller sent the same change to each: the
# merged log keeps the first worker's copy only.
SHARED_EVENT_KINDS = frozenset(
    {
        "start",
        "stop",
        "stopped",
        "concurrency",
        "max_vus",
        "rate",
        "reuse",
        "http",
        "stage",
        "pause",
        "resume",
        "reset",
        "phase",
    }
)
NUMBER = re.compile(r"\d+(?:\.\d+)?")
LEVEL_EVENT_KINDS = frozenset({"concurrency", "max_vus", "rate"})  # events with before/after
LIVE_CONNECTIONS_SHOWN = 50
RECENT_CLOSED_KEPT = 100
EVENTS_KEPT = 500
K = TypeVar("K")
STATE_ORDER = ("running", "paused", "stopping", "idle", "stopped")  # the merge shows the first


@dataclass(frozen=True, slots=True)
class WorkerPart:
    """A worker's latest snapshot and where it runs."""

    worker: int  # 1-based
    node: str
    snapshot: Snapshot


def worker_row(part: WorkerPart) -> WorkerSnapshot:
    snap = part.snapshot
    return WorkerSnapshot(
        worker=part.worker,
        node=part.node,
        state=snap.state,
        requests_total=snap.requests_total,
        rps_now=snap.rps_now,
        rps_mean=round(snap.requests_total / snap.elapsed_s, 1) if snap.elapsed_s > 0 else 0.0,
        cpu_percent=snap.generator.cpu_percent,
        connections_opened=snap.connections.opened_total,
        connections_open=snap.connections.open,
        concurrency=snap.concurrency,
        kernel=snap.kernel.total if snap.kernel is not None else None,
    )


_STATS_SINCE = ("", "warm-up", "reset")  # a reset on any worker restarted the whole


def merge_snapshots(
    parts: Sequence[WorkerPart],
    *,
    cluster: str,
    timeline_cache: dict[object, TimelinePoint] | None = None,
) -> Snapshot:
    """The session as a whole. Timeline seconds some worker has not reported yet are left out
    until it has (unless every worker has stopped), so a live chart never dips."""
    if not parts:
        raise ValueError("nothing to merge")
    snaps = [part.snapshot for part in parts]
    first = snaps[0]
    hist = _HistogramSet(snaps)
    latency = hist.merged("__total__")
    elapsed = max(s.elapsed_s for s in snaps)
    timeline = merge_timelines(snaps, complete_only=not all_stopped(snaps), cache=timeline_cache)
    requests, errors = (
        _sum(snaps, lambda s: s.requests_total),
        _sum(snaps, lambda s: s.errors_total),
    )
    return dataclasses.replace(
        first,
        state=merged_state(snaps),
        elapsed_s=elapsed,
        session_s=max(s.session_s for s in snaps),
        concurrency=_sum(snaps, lambda s: s.concurrency),
        vus=_sum(snaps, lambda s: s.vus),
        busy_vus=_sum(snaps, lambda s: s.busy_vus),
        rate=_sum_optional(s.rate for s in snaps),
        max_vus=_sum(snaps, lambda s: s.max_vus),
        # Each worker's own peak, summed: the peaks of workers that ramp together coincide.
        peak_vus=_sum(snaps, lambda s: s.peak_vus),
        level_set_by_hand=any(s.level_set_by_hand for s in snaps),
        stats_since=max((s.stats_since for s in snaps), key=_STATS_SINCE.index),
        warming_up=any(s.warming_up for s in snaps),
        requests_total=requests,
        errors_total=errors,
        http_errors_total=_sum(snaps, lambda s: s.http_errors_total),
        rps_now=timeline[-1].rps if timeline else 0.0,
        rps_mean=round(latency.n / elapsed, 1) if elapsed > 0 else 0.0,  # responses
        bytes_received=_sum(snaps, lambda s: s.bytes_received),
        latency=LatencySummary.of(latency),
        latency_window=LatencySummary.of(hist.merged("__window__")),
        histogram_total=HistogramData.of(latency),
        histogram_window=HistogramData.of(hist.merged("__window__")),
        ttfb=hist.summary("ttfb", first.ttfb),
        pool_wait=hist.summary("pool_wait", first.pool_wait),
        latency_new_connection=hist.summary("latency_new", first.latency_new_connection),
        latency_reused_connection=hist.summary("latency_reused", first.latency_reused_connection),
        handshake_time_share=_handshake_share(snaps),
        status_codes=_counted(pair for s in snaps for pair in s.status_codes),
        http_versions=_counted(pair for s in snaps for pair in s.http_versions),
        errors=_merge_errors(snaps),
        iterations_total=_sum(snaps, lambda s: s.iterations_total),
        iterations_succeeded=_sum(snaps, lambda s: s.iterations_succeeded),
        iterations_failed=_sum(snaps, lambda s: s.iterations_failed),
        dropped_iterations=_sum(snaps, lambda s: s.dropped_iterations),
        iteration_latency=hist.summary("iteration", first.iteration_latency),
        failures=tuple(_totals(_pairs(s.failures for s in snaps)).most_common()),
        steps=_merge_steps(snaps, hist),
        timeline=timeline,
        events=merge_events(parts),
        connections=_merge_connections(snaps, hist),
        kernel=merge_kernels([s.kernel for s in snaps]),
        warnings=(),  # the controller's detectors judge the merged data
        generator=_merge_generator(snaps),
        phases=_merge_phases(snaps),
        cluster=cluster,
        proxy=first.proxy,
        mix=merge_mix([s.mix for s in snaps]),
        unix_socket=first.unix_socket,
        workers=tuple(worker_row(part) for part in parts),
        # The steps' histograms, merged: what exporters that need buckets (Prometheus) read.
        histograms=tuple(
            (name, HistogramData.of(hist.merged(name)))
            for name in hist.names()
            if name.startswith(STEP_HISTOGRAM_PREFIX)
        ),
    )


def all_stopped(snaps: Sequence[Snapshot]) -> bool:
    return all(s.state == "stopped" for s in snaps)


def merged_state(snaps: Sequence[Snapshot]) -> str:
    states = {s.state for s in snaps}
    return next((state for state in STATE_ORDER if state in states), snaps[0].state)


def _sum(snaps: Iterable[Snapshot], value: Callable[[Snapshot], int]) -> int:
    return sum(value(s) for s in snaps)


def _sum_optional(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present), 6) if present else None


def _pairs(groups: Iterable[tuple[tuple[K, int], ...]]) -> Iterable[tuple[K, int]]:
    for group in groups:
        yield from group


def _totals(pairs: Iterable[tuple[K, int]]) -> Counter[K]:
    totals: Counter[K] = Counter()
    for key, count in pairs:
        totals[key] += count
    return totals


def _counted(pairs: Iterable[tuple[K, int]]) -> tuple[tuple[K, int], ...]:
    """Totals by key, in key order."""
    return tuple(sorted(_totals(pairs).items(), key=lambda item: item[0]))  # type: ignore[arg-type, return-value]


class _HistogramSet:
    """The named histograms of every worker, merged on demand."""

    def __init__(self, snaps: Sequence[Snapshot]) -> None:
        self._by_name: dict[str, list[HistogramData]] = {}
        for snap in snaps:
            self._add("__total__", snap.histogram_total)
            self._add("__window__", snap.histogram_window)
            for name, data in snap.histograms:
                self._add(name, data)

    def _add(self, name: str, data: HistogramData) -> None:
        self._by_name.setdefault(name, []).append(data)

    def names(self) -> list[str]:
        return list(self._by_name)

    def has(self, name: str) -> bool:
        return name in self._by_name

    def merged(self, name: str) -> Histogram:
        return merge_histograms(self._by_name.get(name, ()))

    def summary(self, name: str, fallback: LatencySummary) -> LatencySummary:
        """Merged exactly when the workers sent the histogram; else the first worker's (a
        snapshot built without `mergeable`)."""
        return LatencySummary.of(self.merged(name)) if self.has(name) else fallback


def merge_histograms(parts: Iterable[HistogramData]) -> Histogram:
    """Bucket by bucket, into one histogram."""
    merged = Histogram()
    counts = merged.counts
    for data in parts:
        if not data.count:
            continue
        for index, count in data.buckets:
            counts[index] += count
        merged.min = data.min_us if merged.n == 0 else min(merged.min, data.min_us)
        merged.max = max(merged.max, data.max_us)
        merged.n += data.count
        merged.total += data.total_us
    return merged


def merge_histogram_data(parts: Iterable[HistogramData]) -> HistogramData:
    return HistogramData.of(merge_histograms(parts))


def _handshake_share(snaps: Sequence[Snapshot]) -> float:
    total = sum(s.histogram_total.total_us for s in snaps)
    spent = sum(s.handshake_time_share * s.histogram_total.total_us for s in snaps)
    return round(min(1.0, spent / total), 4) if total else 0.0


def _merge_errors(snaps: Sequence[Snapshot]) -> tuple[ErrorSnapshot, ...]:
    counts: Counter[str] = Counter()
    last: dict[str, str] = {}
    for snap in snaps:
        for error in snap.errors:
            counts[error.kind] += error.count
            last.setdefault(error.kind, error.last_message)
    return tuple(ErrorSnapshot(kind, n, last[kind]) for kind, n in counts.most_common())


def _merge_steps(snaps: Sequence[Snapshot], hist: _HistogramSet) -> tuple[StepSnapshot, ...]:
    by_name: dict[str, list[StepSnapshot]] = {}
    for snap in snaps:
        for step in snap.steps:
            by_name.setdefault(step.name, []).append(step)
    return tuple(
        StepSnapshot(
            name=name,
            requests=sum(s.requests for s in steps),
            errors=sum(s.errors for s in steps),
            rps=round(sum(s.rps for s in steps), 1),
            latency=hist.summary(f"step:{name}", steps[0].latency),
            status_codes=_counted(pair for s in steps for pair in s.status_codes),
        )
        for name, steps in by_name.items()
    )


def merge_timelines(
    snaps: Sequence[Snapshot],
    *,
    complete_only: bool,
    cache: dict[object, TimelinePoint] | None = None,
) -> tuple[TimelinePoint, ...]:
    """Seconds summed by their number `t` (workers start together, so their seconds line up).
    A `cache` kept across calls merges each second once: a worker's past seconds never change."""
    by_second: dict[int, list[TimelinePoint]] = {}
    for snap in snaps:
        for point in snap.timeline:
            by_second.setdefault(point.t, []).append(point)
    if complete_only:
        last_seen = [s.timeline[-1].t if s.timeline else 0 for s in snaps]
        limit = min(last_seen)
        by_second = {t: points for t, points in by_second.items() if t <= limit}
    if cache is None:
        return tuple(merge_points(t, by_second[t]) for t in sorted(by_second))
    merged = tuple(_cached_point(cache, t, by_second[t]) for t in sorted(by_second))
    if len(cache) > 2 * len(merged) + 100:  # drop seconds no snapshot holds any more
        kept = set(merged)
        for stale in [key for key, point in cache.items() if point not in kept]:
            del cache[stale]
    return merged


def _cached_point(
    cache: dict[object, TimelinePoint], t: int, points: Sequence[TimelinePoint]
) -> TimelinePoint:
    key = (t, tuple((p.iterations, p.rps, p.opened) for p in points))  # new after a reset
    cached = cache.get(key)
    if cached is None:
        cached = cache[key] = merge_points(t, points)
    return cached


def merge_points(t: int, points: Sequence[TimelinePoint]) -> TimelinePoint:
    return TimelinePoint(
        t=t,
        rps=round(sum(p.rps for p in points), 1),
        errors=sum(p.errors for p in points),
        concurrency=sum(p.concurrency for p in points),
        p50_ms=max(p.p50_ms for p in points),
        p90_ms=max(p.p90_ms for p in points),
        p99_ms=max(p.p99_ms for p in points),
        open=sum(p.open for p in points),
        active=sum(p.active for p in points),
        idle=sum(p.idle for p in points),
        opened=sum(p.opened for p in points),
        closed=sum(p.closed for p in points),
        iterations=sum(p.iterations for p in points),
        dropped=sum(p.dropped for p in points),
        rate=_sum_optional(p.rate for p in points),
        time_wait=_sum_int_optional(p.time_wait for p in points),
        established=_sum_int_optional(p.established for p in points),
        cpu_percent=_sum_optional(p.cpu_percent for p in points),
    )


def _sum_int_optional(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def merge_events(parts: Sequence[WorkerPart]) -> tuple[EventRecord, ...]:
    """The first worker's events, and every other worker's own ones, named, in time order.
    A level change every worker logged (its share of 50 -> 40 VUs) shows the session's levels:
    the k-th change of a kind in each worker is the same control, so their values add up."""
    shared: dict[str, list[list[EventRecord]]] = {}
    merged: list[EventRecord] = []
    for index, part in enumerate(parts):
        seen: dict[str, int] = {}
        for event in part.snapshot.events:
            kind = _kind(event)
            if kind in LEVEL_EVENT_KINDS:
                position = seen[kind] = seen.get(kind, -1) + 1
                copies = shared.setdefault(kind, [])
                if position == len(copies):
                    copies.append([])
                copies[position].append(event)
            elif index == 0 and kind == "start":
                merged.append(_session_start(event, parts))
            elif index == 0:
                merged.append(event)
            elif kind not in SHARED_EVENT_KINDS:
                merged.append(
                    dataclasses.replace(event, message=f"worker {part.worker}: {event.message}")
                )
    merged += [_summed_level(copies) for groups in shared.values() for copies in groups]
    merged.sort(key=lambda event: event.t)
    return tuple(merged[-EVENTS_KEPT:])


def _session_start(first: EventRecord, parts: Sequence[WorkerPart]) -> EventRecord:
    """Worker 1's start, with the level of the whole session (its own is only its share)."""
    levels = [
        event.after for part in parts for event in part.snapshot.events if _kind(event) == "start"
    ]
    if first.after is None or len(levels) != len(parts) or None in levels:
        return first
    total = sum(level for level in levels if level is not None)
    own = f"{first.after:g}"
    message = first.message.replace(f" {own} ", f" {total:g} ", 1)
    message = re.sub(r" \(max \d+ VUs\)", "", message, count=1)  # the caps are split too
    return dataclasses.replace(first, message=f"{message} (over {len(parts)} workers)", after=total)


def _kind(event: EventRecord) -> str:
    return str(getattr(event.kind, "value", event.kind))


def _summed_level(copies: Sequence[EventRecord]) -> EventRecord:
    first = copies[0]
    if getattr(first, "after", None) is None:  # an event without typed levels
        return first
    before = sum(getattr(copy, "before", None) or 0 for copy in copies)
    after = sum(getattr(copy, "after", None) or 0 for copy in copies)
    summed: EventRecord = dataclasses.replace(
        first,
        before=before if getattr(first, "before", None) is not None else None,
        after=after,
        message=_relabel(first.message, before, after),
    )
    return summed


def _relabel(message: str, before: float, after: float) -> str:
    """ "concurrency 25 → 20" as "concurrency 50 → 40": the first and last numbers are the
    two levels."""
    numbers = list(NUMBER.finditer(message))
    if not numbers:
        return message
    if len(numbers) == 1:
        only = numbers[0]
        return f"{message[: only.start()]}{after:g}{message[only.end() :]}"
    first, last = numbers[0], numbers[-1]
    return (
        f"{message[: first.start()]}{before:g}{message[first.end() : last.start()]}"
        f"{after:g}{message[last.end() :]}"
    )


def _merge_connections(snaps: Sequence[Snapshot], hist: _HistogramSet) -> ConnectionsSnapshot:
    conns = [s.connections for s in snaps]

    def total(value: Callable[[ConnectionsSnapshot], int]) -> int:
        return sum(value(c) for c in conns)

    live = heapq.nlargest(
        LIVE_CONNECTIONS_SHOWN, (info for c in conns for info in c.live), key=lambda i: i.requests
    )
    closed = sorted((info for c in conns for info in c.recent_closed), key=lambda i: -i.age_s)
    return ConnectionsSnapshot(
        open=total(lambda c: c.open),
        connecting=total(lambda c: c.connecting),
        active=total(lambda c: c.active),
        idle=total(lambda c: c.idle),
        peak_open=total(lambda c: c.peak_open),  # the sum of peaks: an upper bound
        opened_total=total(lambda c: c.opened_total),
        carried_over=total(lambda c: c.carried_over),
        closed_total=total(lambda c: c.closed_total),
        closed_by_reason=tuple(_totals(_pairs(c.closed_by_reason for c in conns)).most_common()),
        requests_new=total(lambda c: c.requests_new),
        requests_reused=total(lambda c: c.requests_reused),
        connect_ms=hist.summary("connect", conns[0].connect_ms),
        tls_ms=hist.summary("tls", conns[0].tls_ms),
        requests_per_connection=merge_histogram_data(c.requests_per_connection for c in conns),
        age_ms=merge_histogram_data(c.age_ms for c in conns),
        live=tuple(live),
        recent_closed=tuple(closed[-RECENT_CLOSED_KEPT:]),
        keepalive_hints=_counted(pair for c in conns for pair in c.keepalive_hints),
    )


def merge_kernels(kernels: Sequence[KernelSnapshot | None]) -> KernelSnapshot | None:
    """Workers add up: each kernel snapshot counts one worker's own sockets."""
    present = [k for k in kernels if k is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    targets: dict[str, list[SocketCounts]] = {}
    for kernel in present:
        for label, counts in kernel.targets:
            targets.setdefault(label, []).append(counts)
    return KernelSnapshot(
        targets=tuple((label, add_counts(counts)) for label, counts in targets.items()),
        total=add_counts([k.total for k in present]),
        time_wait_peak=sum(k.time_wait_peak for k in present),
        ephemeral_in_use=max(k.ephemeral_in_use for k in present),
        ephemeral_range=present[0].ephemeral_range,
        fds_open=sum(k.fds_open for k in present),
        fds_limit=sum(k.fds_limit for k in present),
    )


def add_counts(counts: Sequence[SocketCounts]) -> SocketCounts:
    return SocketCounts(
        established=sum(c.established for c in counts),
        time_wait=sum(c.time_wait for c in counts),
        close_wait=sum(c.close_wait for c in counts),
        syn_sent=sum(c.syn_sent for c in counts),
        other=sum(c.other for c in counts),
    )


def _merge_generator(snaps: Sequence[Snapshot]) -> GeneratorLoad:
    """CPU adds up (100% is one core busy); the loop lag is the worst worker's."""
    loads = [s.generator for s in snaps]
    return GeneratorLoad(
        cpu_percent=round(sum(g.cpu_percent for g in loads), 1),
        loop_lag_ms=max(g.loop_lag_ms for g in loads),
        cpu_seconds=round(sum(g.cpu_seconds for g in loads), 3),
    )


def _merge_phases(snaps: Sequence[Snapshot]) -> tuple[PhaseResult, ...]:
    """Every worker runs the same phase plan; phase k adds up across workers."""
    count = min(len(s.phases) for s in snaps)
    return tuple(merge_phase([s.phases[k] for s in snaps]) for k in range(count))


def merge_phase(phases: Sequence[PhaseResult]) -> PhaseResult:
    first = phases[0]
    requests = sum(p.requests for p in phases)
    cpu_ms = sum(p.cpu_ms_per_request * p.requests for p in phases)
    return dataclasses.replace(
        first,
        requests=requests,
        rps=round(sum(p.rps for p in phases), 1),
        p50_ms=max(p.p50_ms for p in phases),
        p99_ms=max(p.p99_ms for p in phases),
        opened=sum(p.opened for p in phases),
        opened_per_s=round(sum(p.opened_per_s for p in phases), 1),
        time_wait_peak=sum(p.time_wait_peak for p in phases),
        time_wait_rise=sum(p.time_wait_rise for p in phases),
        cpu_ms_per_request=round(cpu_ms / requests, 4) if requests else 0.0,
        errors=sum(p.errors for p in phases),
    )


def merge_mix(parts: Sequence[tuple[MixRow, ...]]) -> tuple[MixRow, ...]:
    """Each runbook's iterations summed over the workers (every worker runs the same mix)."""
    rows: dict[str, MixRow] = {}
    for part in parts:
        for row in part:
            seen = rows.get(row.runbook)
            rows[row.runbook] = (
                row
                if seen is None
                else MixRow(
                    row.runbook,
                    row.weight,
                    seen.iterations + row.iterations,
                    seen.failed + row.failed,
                )
            )
    return tuple(rows.values())
