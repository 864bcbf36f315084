"""The JSON report: a stable contract built from a final `Snapshot`.

Key names come from the project's issues and must not change; new keys may be added.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, replace
from importlib import resources
from typing import Any

from ..redact import redact_text, redact_value
from ._histogram import bucket_bounds
from ._snapshot import (
    HistogramData,
    LatencySummary,
    Snapshot,
    TimelinePoint,
    WorkerSnapshot,
)

SCHEMA_VERSION = 1  # bumped only when a key changes meaning or goes away


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every report validates against."""
    text = resources.files(__package__).joinpath("report.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _ms(value: float) -> float:
    return round(value, 3)


def latency_ms(summary: LatencySummary, *, p999: bool = True, p95: bool = True) -> dict[str, float]:
    result = {
        "min": _ms(summary.min),
        "mean": _ms(summary.mean),
        "p50": _ms(summary.p50),
        "p90": _ms(summary.p90),
    }
    if p95:
        result["p95"] = _ms(summary.p95)
    result["p99"] = _ms(summary.p99)
    if p999:
        result["p999"] = _ms(summary.p999)
    result["max"] = _ms(summary.max)
    return result


def fate_latency_ms(summary: LatencySummary) -> dict[str, float]:
    return {
        "count": summary.count,
        "p50": _ms(summary.p50),
        "p90": _ms(summary.p90),
        "p99": _ms(summary.p99),
        "max": _ms(summary.max),
    }


def timeline_entry(point: TimelinePoint) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "t": point.t,
        "rps": point.rps,
        "errors": point.errors,
        "concurrency": point.concurrency,
        "p50_ms": _ms(point.p50_ms),
        "p90_ms": _ms(point.p90_ms),
        "p99_ms": _ms(point.p99_ms),
        "open": point.open,
        "active": point.active,
        "idle": point.idle,
        "opened": point.opened,
        "closed": point.closed,
        "iterations": point.iterations,
        "dropped": point.dropped,
    }
    if point.rate is not None:
        entry["rate"] = point.rate
    if point.time_wait is not None:
        entry["time_wait"] = point.time_wait
    if point.established is not None:
        entry["established"] = point.established
    if point.cpu_percent is not None:
        entry["cpu_percent"] = point.cpu_percent
    return entry


def count_histogram(data: HistogramData) -> list[dict[str, int]]:
    """Exact-ish buckets of an integer histogram (requests per connection, ages) as rows."""
    rows = []
    for index, count in data.buckets:
        low, high = bucket_bounds(index)
        rows.append({"from": low, "to": high, "count": count})
    return rows


def worker_fields(snapshot: Snapshot) -> dict[str, Any]:
    """`workers`, `cluster` and `per_worker`; a session that was not split is its own worker."""
    rows = snapshot.workers or (
        WorkerSnapshot(
            worker=1,
            node=socket.gethostname(),
            state=snapshot.state,
            requests_total=snapshot.requests_total,
            rps_now=snapshot.rps_now,
            rps_mean=snapshot.rps_mean,
            cpu_percent=snapshot.generator.cpu_percent,
            connections_opened=snapshot.connections.opened_total,
            connections_open=snapshot.connections.open,
            concurrency=snapshot.concurrency,
        ),
    )
    return {
        "workers": len(rows),
        "cluster": snapshot.cluster,
        "per_worker": [
            {
                "worker": row.worker,
                "node": row.node,
                "requests_total": row.requests_total,
                "requests_per_second": (
                    round(row.requests_total / snapshot.elapsed_s, 2) if snapshot.elapsed_s else 0.0
                ),
                "cpu_percent": row.cpu_percent,
                "connections_opened": row.connections_opened,
            }
            for row in rows
        ],
    }


def mix_rows(snapshot: Snapshot) -> list[dict[str, Any]]:
    """`--mix`: a row per runbook, with its share of the iterations."""
    total = sum(row.iterations for row in snapshot.mix)
    return [
        {
            "runbook": row.runbook,
            "weight": row.weight,
            "iterations": row.iterations,
            "iterations_failed": row.failed,
            "share": round(row.iterations / total, 4) if total else 0.0,
        }
        for row in snapshot.mix
    ]


def build_report(snapshot: Snapshot) -> dict[str, Any]:
    duration = snapshot.elapsed_s
    connections = snapshot.connections
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "scenario": snapshot.scenario,
        "targets": list(snapshot.targets),
        "mode": snapshot.mode,
        "requests_total": snapshot.requests_total,
        "requests_per_second": round(snapshot.requests_total / duration, 2) if duration else 0.0,
        "errors_total": snapshot.errors_total,
        "error_kinds": {e.kind: e.count for e in snapshot.errors},
        "error_messages": {e.kind: e.last_message for e in snapshot.errors},
        "http_errors_total": snapshot.http_errors_total,
        "status_codes": {str(code): n for code, n in snapshot.status_codes},
        "latency_ms": latency_ms(snapshot.latency),
        "ttfb_ms": latency_ms(snapshot.ttfb),
        "pool_wait_ms": latency_ms(snapshot.pool_wait),
        "iterations_total": snapshot.iterations_total,
        "iterations_succeeded": snapshot.iterations_succeeded,
        "iterations_failed": snapshot.iterations_failed,
        "iterations_per_second": (
            round(snapshot.iterations_total / duration, 2) if duration else 0.0
        ),
        "dropped_iterations": snapshot.dropped_iterations,
        "iteration_latency_ms": latency_ms(snapshot.iteration_latency, p999=False),
        "failures": dict(snapshot.failures),
        # the VUs set at the end; in the open model, the VU cap in use (never the unused -c)
        "concurrency": snapshot.max_vus if snapshot.mode == "open" else snapshot.concurrency,
        "rate": snapshot.rate,
        "max_vus": snapshot.max_vus,
        "duration_s": round(duration, 3),
        "http_versions": {version: n for version, n in snapshot.http_versions if n},
        "reuse_mode": snapshot.reuse_mode,
        "http_version_setting": snapshot.http_version,
        "bytes_received": snapshot.bytes_received,
        "connections_opened": connections.opened_total,
        "connections_carried_over": connections.carried_over,
        "connections_closed": connections.closed_total,
        "connections_peak_open": connections.peak_open,
        "connections_closed_by_reason": dict(connections.closed_by_reason),
        "requests_on_new_connections": connections.requests_new,
        "requests_on_reused_connections": connections.requests_reused,
        "requests_per_connection": round(connections.requests_per_connection_mean, 2),
        "new_connection_ratio": round(connections.new_ratio, 4),
        "connect_ms": latency_ms(connections.connect_ms, p999=False),
        "tls_ms": latency_ms(connections.tls_ms, p999=False),
        "latency_new_connection_ms": fate_latency_ms(snapshot.latency_new_connection),
        "latency_reused_connection_ms": fate_latency_ms(snapshot.latency_reused_connection),
        "handshake_time_share": snapshot.handshake_time_share,
        "connection_ledger": {
            "requests_per_connection": count_histogram(connections.requests_per_connection),
            "age_ms": count_histogram(connections.age_ms),
            "recent_closed": [asdict(c) for c in connections.recent_closed[-20:]],
            "server_keepalive_timeouts_s": {f"{k:g}": n for k, n in connections.keepalive_hints},
        },
        "steps": {
            step.name: {
                "requests": step.requests,
                "errors": step.errors,
                "latency_ms": {
                    "p50": _ms(step.latency.p50),
                    "p90": _ms(step.latency.p90),
                    "p99": _ms(step.latency.p99),
                    "max": _ms(step.latency.max),
                },
                "status_codes": {str(code): n for code, n in step.status_codes},
            }
            for step in snapshot.steps
        },
        "warnings": [
            {"kind": w.kind, "message": w.message, "advice": w.advice, "values": dict(w.values)}
            for w in snapshot.warnings
        ],
        "generator": asdict(snapshot.generator),
        "timeline": [timeline_entry(point) for point in snapshot.timeline],
    }
    report.update(worker_fields(snapshot))
    report["proxy"] = snapshot.proxy
    report["unix_socket"] = snapshot.unix_socket
    if snapshot.mix:
        report["mix"] = mix_rows(snapshot)
    if snapshot.kernel is not None:
        report["time_wait_peak"] = snapshot.kernel.time_wait_peak
        report["kernel"] = asdict(snapshot.kernel)
    if snapshot.phases:
        report["phases"] = [asdict(phase) for phase in snapshot.phases]
    return redact_value(report)  # type: ignore[no-any-return]


def redact_snapshot(snapshot: Snapshot) -> Snapshot:
    """The snapshot with its words redacted (URL userinfo, secret header values, runbook
    secrets), for anything that shows or writes it: the console, the text report."""
    return replace(
        snapshot,
        scenario=redact_text(snapshot.scenario),
        targets=tuple(redact_text(target) for target in snapshot.targets),
        errors=tuple(
            replace(error, last_message=redact_text(error.last_message))
            for error in snapshot.errors
        ),
        events=tuple(replace(one, message=redact_text(one.message)) for one in snapshot.events),
        warnings=tuple(
            replace(one, message=redact_text(one.message), advice=redact_text(one.advice))
            for one in snapshot.warnings
        ),
        steps=tuple(replace(step, name=redact_text(step.name)) for step in snapshot.steps),
    )
