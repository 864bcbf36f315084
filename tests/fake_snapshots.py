"""Deterministic snapshots for console tests: plausible numbers, no clock, no randomness."""

from __future__ import annotations

import math

from loadscope.engine import Histogram, HistogramData, LatencySummary, Snapshot, TimelinePoint
from loadscope.engine.metrics._snapshot import (
    ConnectionsSnapshot,
    ErrorSnapshot,
    EventKind,
    EventRecord,
    GeneratorLoad,
    KernelSnapshot,
    SocketCounts,
    StepSnapshot,
    Warning,
)
from loadscope.engine.transport.interfaces import ConnectionInfo


def _latencies(seed: int, count: int, base_us: int) -> Histogram:
    h = Histogram()
    for i in range(count):
        # a skewed, repeatable spread: most near the base, a long tail
        x = ((i * 7919 + seed * 104729) % 1000) / 1000
        h.record(int(base_us * (0.6 + 0.8 * x + 12 * x**12)))
    return h


def timeline(seconds: int, concurrency: int = 10, churn: bool = False) -> tuple[TimelinePoint, ...]:
    points = []
    for t in range(1, seconds + 1):
        rps = 9000 + 1500 * math.sin(t / 6) + (2000 if t > seconds // 2 else 0)
        errors = 40 if seconds // 3 <= t < seconds // 3 + 3 else 0
        opened = int(rps) if churn else (concurrency if t == 1 else 0)
        points.append(
            TimelinePoint(
                t=t,
                rps=round(rps, 1),
                errors=errors,
                concurrency=concurrency,
                p50_ms=round(1.1 + 0.3 * math.sin(t / 5), 3),
                p90_ms=round(2.0 + 0.4 * math.sin(t / 5), 3),
                p99_ms=round(4.0 + 1.5 * math.sin(t / 4), 3),
                open=concurrency,
                active=concurrency - 2,
                idle=2,
                opened=opened,
                closed=opened if churn else 0,
                iterations=int(rps),
                time_wait=(t * 300 if churn else 0),
                established=concurrency * 2,
            )
        )
    return tuple(points)


def make_snapshot(
    seconds: int = 90,
    *,
    concurrency: int = 10,
    state: str = "running",
    reuse_mode: str = "shared",
    churn: bool = False,
    with_failures: bool = True,
) -> Snapshot:
    total = _latencies(1, 4000, 1200)
    window = _latencies(2, 1500, 1150)
    points = timeline(seconds, concurrency, churn)
    requests = int(sum(p.rps for p in points)) + sum(p.errors for p in points)
    errors = sum(p.errors for p in points)
    opened = sum(p.opened for p in points)
    steps = (
        StepSnapshot(
            "demo:login",
            requests // 3,
            0,
            3100.0,
            LatencySummary.of(_latencies(3, 500, 900)),
            ((200, requests // 3),),
        ),
        StepSnapshot(
            "demo:create_user",
            requests // 3,
            errors,
            3050.0,
            LatencySummary.of(_latencies(4, 500, 1500)),
            ((201, requests // 3 - errors),),
        ),
        StepSnapshot(
            "demo:get_user",
            requests // 3,
            0,
            3050.0,
            LatencySummary.of(_latencies(5, 500, 1000)),
            ((200, requests // 3),),
        ),
    )
    live = tuple(
        ConnectionInfo(
            i,
            "req",
            "http://127.0.0.1:8080",
            "HTTP/1.1",
            40000 + i,
            88.5 - i,
            2600 - i * 9,
            1 if i % 3 else 0,
            0.0,
            150_000,
            420_000,
            0.21,
            0.0,
        )
        for i in range(1, concurrency + 1)
    )
    return Snapshot(
        state=state,
        elapsed_s=float(seconds),
        session_s=float(seconds),
        mode="closed",
        concurrency=concurrency,
        vus=concurrency,
        busy_vus=concurrency,
        rate=None,
        max_vus=100,
        reuse_mode=reuse_mode,
        http_version="auto",
        h2_connections=1,
        scenario="examples/demo.yml",
        targets=("http://127.0.0.1:8080",),
        duration_s=None,
        warm_up_s=0.0,
        warming_up=False,
        requests_total=requests,
        errors_total=errors,
        http_errors_total=0,
        rps_now=points[-1].rps,
        rps_mean=round(requests / seconds, 1),
        bytes_received=requests * 120,
        latency=LatencySummary.of(total),
        latency_window=LatencySummary.of(window),
        histogram_total=HistogramData.of(total),
        histogram_window=HistogramData.of(window),
        ttfb=LatencySummary.of(window),
        pool_wait=LatencySummary(),
        latency_new_connection=LatencySummary.of(_latencies(6, 50, 3000)),
        latency_reused_connection=LatencySummary.of(window),
        handshake_time_share=0.0004,
        status_codes=((200, requests - errors), (201, 0)),
        http_versions=(("HTTP/1.1", requests),),
        errors=(ErrorSnapshot("timeout", errors, "no complete response within the timeout"),)
        if errors
        else (),
        iterations_total=requests // 3,
        iterations_succeeded=requests // 3 - 5,
        iterations_failed=5 if with_failures else 0,
        dropped_iterations=0,
        iteration_latency=LatencySummary.of(_latencies(7, 500, 3600)),
        failures=(("demo:create_user: test failed: current.res.status == 201", 5),)
        if with_failures
        else (),
        steps=steps,
        timeline=points,
        events=(
            EventRecord(0.0, EventKind.START, "started: 10 VUs, reuse shared, HTTP by ALPN"),
            EventRecord(30.0, EventKind.CONCURRENCY, "concurrency 10 → 20", before=10, after=20),
            EventRecord(
                31.0,
                EventKind.CONCURRENCY,
                f"concurrency 20 → {concurrency}",
                before=20,
                after=concurrency,
            ),
            EventRecord(
                45.0, EventKind.REUSE, "reuse mode shared → per-iteration", mode="per-iteration"
            ),
            EventRecord(
                60.0,
                EventKind.REUSE,
                f"reuse mode per-iteration → {reuse_mode}",
                mode=reuse_mode,
            ),
        ),
        connections=ConnectionsSnapshot(
            open=concurrency,
            active=concurrency - 2,
            idle=2,
            peak_open=20,
            opened_total=opened,
            closed_total=opened - concurrency,
            closed_by_reason=(("pool_shrink", 10),),
            requests_new=opened,
            requests_reused=requests - opened,
            connect_ms=LatencySummary.of(_latencies(8, 40, 210)),
            tls_ms=LatencySummary(),
            live=live,
        ),
        kernel=KernelSnapshot(
            targets=(("127.0.0.1:8080", SocketCounts(established=concurrency * 2, time_wait=0)),),
            total=SocketCounts(established=concurrency * 2, time_wait=30 if churn else 0),
            time_wait_peak=4200 if churn else 0,
            ephemeral_in_use=concurrency,
            ephemeral_range=(32768, 60999),
            fds_open=40,
            fds_limit=1024,
        ),
        warnings=(
            Warning(
                "connection_churn",
                "connections keep opening: 9,000/s in steady state",
                "reuse connections: use --reuse shared",
                (("opened_per_s", 9000.0),),
            ),
        )
        if churn
        else (),
        generator=GeneratorLoad(cpu_percent=63.0, loop_lag_ms=1.2),
        http_version_in_use="HTTP/1.1",
    )
