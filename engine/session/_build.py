"""Building a `Snapshot` from a live session."""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from typing import Protocol

from ..diagnostics import DiagnosticsExtension, SessionView, SnapshotFields, overlay
from ..metrics import (
    ConnectionsSnapshot,
    ErrorSnapshot,
    GeneratorLoad,
    HistogramData,
    LatencySummary,
    Snapshot,
    StepSnapshot,
    StepStats,
    TimelinePoint,
)
from ..redact import learnt_secrets
from ..transport import used_proxy, used_unix_socket
from .scenario import Scenario

LIVE_CONNECTIONS_SHOWN = 50


class SnapshotSource(SessionView, Protocol):
    """What a snapshot reads of a session beyond what diagnostics read (`Session` is one)."""

    @property
    def scenario(self) -> Scenario: ...

    @property
    def timeline(self) -> Sequence[TimelinePoint]: ...

    @property
    def extensions(self) -> Sequence[DiagnosticsExtension]: ...

    @property
    def vus(self) -> int: ...

    @property
    def max_vus(self) -> int: ...

    @property
    def peak_vus(self) -> int: ...

    @property
    def level_set_by_hand(self) -> bool: ...

    @property
    def stats_since(self) -> str: ...


def build_snapshot(
    session: SnapshotSource, timeline: int | None, *, mergeable: bool = False
) -> Snapshot:
    """`mergeable` adds the histograms a merge of several sessions' snapshots needs."""
    metrics = session.metrics
    config = session.config
    elapsed = session.elapsed()
    points = tuple(session.timeline)
    if timeline is not None:
        points = points[-timeline:]
    extras = SnapshotFields()
    for extension in session.extensions:
        extras = overlay(extras, extension.snapshot_fields())
    return Snapshot(
        state=session.state.value,
        elapsed_s=round(elapsed, 3),
        session_s=round(session.session_elapsed(), 3),
        mode="open" if config.open_model else "closed",
        concurrency=session.concurrency,
        vus=session.vus,
        busy_vus=session.busy,
        rate=session.rate,
        max_vus=session.max_vus,
        reuse_mode=session.reuse_mode.value,
        http_version=session.http_version.value,
        h2_connections=config.h2_connections,
        scenario=session.scenario.name,
        targets=tuple(session.scenario.targets()),
        duration_s=config.duration,
        warm_up_s=config.warm_up,
        warming_up=session.warming_up,
        requests_total=metrics.requests,
        errors_total=metrics.errors,
        http_errors_total=metrics.http_errors,
        rps_now=session.timeline[-1].rps if session.timeline else 0.0,
        secrets_to_mask=learnt_secrets(),
        rps_mean=round(metrics.latency.n / elapsed, 1) if elapsed > 0 else 0.0,  # responses
        bytes_received=metrics.bytes_received,
        latency=LatencySummary.of(metrics.latency),
        latency_window=LatencySummary.of(metrics.window_histogram),
        histogram_total=HistogramData.of(metrics.latency),
        histogram_window=HistogramData.of(metrics.window_histogram),
        ttfb=LatencySummary.of(metrics.ttfb),
        pool_wait=LatencySummary.of(metrics.wait),
        latency_new_connection=LatencySummary.of(metrics.latency_new),
        latency_reused_connection=LatencySummary.of(metrics.latency_reused),
        handshake_time_share=_handshake_share(session),
        status_codes=tuple(sorted(metrics.status_codes.items())),
        http_versions=tuple(
            sorted((v.decode("ascii"), n) for v, n in metrics.http_versions.items())
        ),
        errors=tuple(
            ErrorSnapshot(kind, count, metrics.last_error.get(kind, ""))
            for kind, count in metrics.error_kinds.most_common()
        ),
        iterations_total=metrics.iterations,
        iterations_succeeded=metrics.iterations_ok,
        iterations_failed=metrics.iterations_failed,
        dropped_iterations=metrics.iterations_dropped,
        iteration_latency=LatencySummary.of(metrics.iteration_latency),
        failures=tuple(metrics.failures.most_common()),
        steps=tuple(_step(step) for step in metrics.steps),
        timeline=points,
        events=tuple(session.events),
        connections=_connections(session),
        http_version_in_use=metrics.last_version.decode("ascii"),
        peak_vus=session.peak_vus,
        level_set_by_hand=session.level_set_by_hand,
        stats_since=session.stats_since,
        proxy=used_proxy(session.runners.values()),
        unix_socket=used_unix_socket(session.runners.values()),
        histograms=_mergeable_histograms(session) if mergeable else (),
        kernel=extras.kernel,
        warnings=extras.warnings or (),
        generator=extras.generator or GeneratorLoad(),
        phases=extras.phases or (),
        mix=extras.mix or (),
    )


def _mergeable_histograms(session: SnapshotSource) -> tuple[tuple[str, HistogramData], ...]:
    metrics, ledger = session.metrics, session.ledger
    named = {
        "ttfb": metrics.ttfb,
        "pool_wait": metrics.wait,
        "latency_new": metrics.latency_new,
        "latency_reused": metrics.latency_reused,
        "iteration": metrics.iteration_latency,
        "connect": ledger.connect_us,
        "tls": ledger.tls_us,
        **{f"step:{step.name}": step.histogram for step in metrics.steps},
    }
    return tuple((name, HistogramData.of(histogram)) for name, histogram in named.items())


def _handshake_share(session: SnapshotSource) -> float:
    total = session.metrics.latency.total
    return round(min(1.0, session.metrics.handshake_us / total), 4) if total else 0.0


def _step(step: StepStats) -> StepSnapshot:
    window = list(step.window_requests)
    rps = sum(window) / len(window) if window else 0.0
    return StepSnapshot(
        name=step.name,
        requests=step.requests,
        errors=step.errors,
        rps=round(rps, 1),
        latency=LatencySummary.of(step.histogram),
        status_codes=tuple(sorted(step.status_codes.items())),
    )


def _connections(session: SnapshotSource) -> ConnectionsSnapshot:
    ledger = session.ledger
    metrics = session.metrics
    now = time.monotonic()
    top = heapq.nlargest(LIVE_CONNECTIONS_SHOWN, ledger.live.values(), key=lambda c: c.requests)
    return ConnectionsSnapshot(
        open=ledger.open,
        connecting=ledger.connecting,
        active=ledger.active,
        idle=ledger.idle,
        peak_open=ledger.peak_open,
        opened_total=ledger.opened_total,
        carried_over=ledger.carried_over,
        closed_total=ledger.closed_total,
        closed_by_reason=tuple(ledger.closed_by_reason.most_common()),
        requests_new=metrics.requests_new,
        requests_reused=metrics.requests_reused,
        connect_ms=LatencySummary.of(ledger.connect_us),
        tls_ms=LatencySummary.of(ledger.tls_us),
        requests_per_connection=HistogramData.of(ledger.requests_per_connection),
        age_ms=HistogramData.of(ledger.age_ms),
        live=tuple(conn.info(now) for conn in top),
        recent_closed=tuple(ledger.recent_closed),
        keepalive_hints=tuple(sorted(ledger.keepalive_hints.items())),
    )
