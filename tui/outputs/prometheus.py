"""Prometheus metrics, served by `prometheus_client` while a session lives.

Once a second, on the session's own loop, a tick listener copies the numbers into an immutable
`Numbers`; the exporter's HTTP thread only ever reads the latest copy, so a scrape never
touches live engine state from another thread.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ...engine import HistogramData, Session, Snapshot, TimelinePoint
from ...engine.metrics.report import count_histogram
from ...engine.redact import redact_text

# Failure reasons with a label of their own, the first seen; later ones are counted as OTHER, so
# a runbook whose reasons carry values (ids, times) cannot make a series per iteration.
MAX_REASON_LABELS = 10
OTHER_REASON = "other"
# Seconds: from a loopback microsecond to a slow backend's ten seconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class StepNumbers:
    statuses: tuple[tuple[str, int], ...]  # ("200", n) ..., and ("error", n) for failed requests
    buckets: tuple[tuple[float, int], ...]  # cumulative counts at BUCKETS, then +Inf
    count: int
    sum_seconds: float


@dataclass(frozen=True)
class Numbers:
    steps: tuple[tuple[str, StepNumbers], ...] = ()
    errors: tuple[tuple[str, int], ...] = ()
    vus: int = 0
    open: int = 0
    idle: int = 0
    opened_total: int = 0
    closed_by_reason: tuple[tuple[str, int], ...] = ()
    time_wait: int | None = None
    iterations: int = 0
    failures: tuple[tuple[str, int], ...] = ()  # (reason, count), most common first


def cumulative_buckets(data: HistogramData) -> tuple[tuple[float, int], ...]:
    """Counts at or under each bound; a bucket straddling a bound (at most 0.8% wide)
    counts under it when its upper edge does."""
    rows = count_histogram(data)
    result = []
    for bound in BUCKETS:
        limit = bound * 1_000_000
        result.append((bound, sum(row["count"] for row in rows if row["to"] <= limit)))
    result.append((float("inf"), data.count))
    return tuple(result)


def step_numbers(
    snapshot: Snapshot, histograms: Mapping[str, HistogramData]
) -> tuple[tuple[str, StepNumbers], ...]:
    """Each step's statuses and latency buckets; `histograms` by step name."""
    steps = []
    for step in snapshot.steps:
        statuses = [(str(code), n) for code, n in step.status_codes]
        failed = step.requests - sum(n for _, n in step.status_codes)
        if failed > 0:
            statuses.append(("error", failed))
        data = histograms.get(step.name, HistogramData())
        steps.append(
            (
                step.name,
                StepNumbers(
                    tuple(statuses), cumulative_buckets(data), data.count, data.total_us / 1e6
                ),
            )
        )
    return tuple(steps)


def numbers_of(session: Session) -> Numbers:
    """In the process that runs the session: its steps' histograms as they are."""
    histograms = {name: HistogramData.of(step.histogram) for name, step in session.steps.items()}
    return numbers_from(session.snapshot(timeline=1), histograms)


def merged_numbers(snapshot: Snapshot) -> Numbers:
    """From the workers' merged snapshot, which carries the steps' merged histograms."""
    prefix = "step:"
    histograms = {
        name.removeprefix(prefix): data
        for name, data in snapshot.histograms
        if name.startswith(prefix)
    }
    return numbers_from(snapshot, histograms)


def numbers_from(snapshot: Snapshot, histograms: Mapping[str, HistogramData]) -> Numbers:
    connections = snapshot.connections
    return Numbers(
        steps=step_numbers(snapshot, histograms),
        errors=tuple((e.kind, e.count) for e in snapshot.errors),
        vus=snapshot.vus,
        open=connections.open,
        idle=connections.idle,
        opened_total=connections.opened_total,
        closed_by_reason=connections.closed_by_reason,
        time_wait=snapshot.kernel.total.time_wait if snapshot.kernel is not None else None,
        iterations=snapshot.iterations_total,
        failures=tuple((redact_text(reason), n) for reason, n in snapshot.failures),
    )


class ReasonLabels:
    """The failure reasons that get a label: the first MAX_REASON_LABELS seen keep theirs for
    the session's life (a counter's series never vanishes); every later one adds to OTHER."""

    def __init__(self) -> None:
        self.kept: dict[str, None] = {}

    def fold(self, failures: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
        counts: dict[str, int] = dict.fromkeys(self.kept, 0)
        for reason, count in failures:
            if reason not in self.kept and len(self.kept) < MAX_REASON_LABELS:
                self.kept[reason] = None
            label = reason if reason in self.kept else OTHER_REASON
            counts[label] = counts.get(label, 0) + count
        return tuple(counts.items())


class SessionCollector(Collector):
    """Reports the latest `Numbers` a tick left behind."""

    def __init__(self) -> None:
        self.numbers = Numbers()
        self._reasons = ReasonLabels()  # only `update` (the session's loop) touches it

    def update(self, numbers: Numbers) -> None:
        bounded = replace(numbers, failures=self._reasons.fold(numbers.failures))
        self.numbers = bounded  # one reference swap: the scrape thread sees old or new

    def collect(self) -> Iterator[Metric]:
        numbers = self.numbers
        yield from _request_metrics(numbers)
        yield from _iteration_metrics(numbers)
        yield from _connection_metrics(numbers)


def _iteration_metrics(numbers: Numbers) -> Iterator[Metric]:
    """As the JSON report's iterations_total and failures (whose counts add up to
    iterations_failed): whole runbook passes, a failed test: failing one."""
    yield CounterMetricFamily(
        "loadscope_iterations",
        "Iterations finished (whole runbook passes)",
        value=numbers.iterations,
    )
    failed = CounterMetricFamily(
        "loadscope_iterations_failed",
        f"Iterations failed, by reason (the first {MAX_REASON_LABELS} reasons seen; later ones "
        f"as {OTHER_REASON})",
        labels=["reason"],
    )
    for reason, count in numbers.failures:
        failed.add_metric([reason], count)
    yield failed


def _request_metrics(numbers: Numbers) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "loadscope_requests",
        "Requests finished, by step and HTTP status (error: no response)",
        labels=["step", "status"],
    )
    durations = HistogramMetricFamily(
        "loadscope_request_duration_seconds", "Request latency by step", labels=["step"]
    )
    for name, step in numbers.steps:
        for status, count in step.statuses:
            requests.add_metric([name, status], count)
        buckets = [(_bound(b), n) for b, n in step.buckets]
        durations.add_metric([name], buckets, sum_value=step.sum_seconds)
    errors = CounterMetricFamily(
        "loadscope_errors", "Failed requests by error kind", labels=["kind"]
    )
    for kind, count in numbers.errors:
        errors.add_metric([kind], count)
    yield requests
    yield durations
    yield errors
    yield GaugeMetricFamily("loadscope_vus", "Virtual users alive", value=numbers.vus)


def _connection_metrics(numbers: Numbers) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "loadscope_connections_open", "Connections open now", value=numbers.open
    )
    yield GaugeMetricFamily(
        "loadscope_connections_idle", "Open connections waiting in the pool", value=numbers.idle
    )
    yield CounterMetricFamily(
        "loadscope_connections_opened", "Connections opened", value=numbers.opened_total
    )
    closed = CounterMetricFamily(
        "loadscope_connections_closed", "Connections closed, by reason", labels=["reason"]
    )
    for reason, count in numbers.closed_by_reason:
        closed.add_metric([reason], count)
    yield closed
    if numbers.time_wait is not None:
        yield GaugeMetricFamily(
            "loadscope_time_wait_sockets",
            "Sockets to the targets in TIME_WAIT, both ends counted",
            value=numbers.time_wait,
        )


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class MergedSource(Protocol):
    tick_listeners: list[Callable[[TimelinePoint], None]]

    def snapshot(self) -> Snapshot | None: ...


class MetricsServer:
    """`/metrics` for one session, from its first tick to `close()`."""

    def __init__(self, host: str, port: int) -> None:
        self.collector = SessionCollector()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        self.port = self._server.server_port

    def attach(self, session: Session) -> None:
        def on_tick(point: TimelinePoint) -> None:
            self.collector.update(numbers_of(session))

        session.tick_listeners.append(on_tick)

    def attach_workers(self, controller: MergedSource) -> None:
        """Serve the merged numbers of a session split over workers, every merged second."""

        def on_tick(point: TimelinePoint) -> None:
            snapshot = controller.snapshot()
            if snapshot is not None:
                self.collector.update(merged_numbers(snapshot))

        controller.tick_listeners.append(on_tick)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics(host: str, port: int) -> MetricsServer:
    """Bind now, before any request: a busy port is bad input (OSError for the caller)."""
    return MetricsServer(host, port)


def check_metrics_port(host: str, port: int) -> None:
    """For a server that another process starts: fail here, early, if it could not bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
