"""Immutable plain-data snapshots of a session: what the console draws and reports print.

Everything here is a frozen dataclass of numbers, strings and tuples, so a snapshot can cross a
process boundary (pickle) and be read by anyone without locks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..transport.interfaces import ConnectionInfo
from ._histogram import Histogram, bucket_bounds

PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Milliseconds."""

    count: int = 0
    min: float = 0.0
    mean: float = 0.0
    p50: float = 0.0
    p90: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    p999: float = 0.0
    max: float = 0.0

    @classmethod
    def of(cls, histogram: Histogram) -> LatencySummary:
        if histogram.n == 0:
            return cls()
        p50, p90, p95, p99, p999 = histogram.percentiles(PERCENTILES)
        return cls(
            count=histogram.n,
            min=histogram.min / 1000,
            mean=histogram.mean / 1000,
            p50=p50 / 1000,
            p90=p90 / 1000,
            p95=p95 / 1000,
            p99=p99 / 1000,
            p999=p999 / 1000,
            max=histogram.max / 1000,
        )


@dataclass(frozen=True, slots=True)
class HistogramData:
    """A histogram's non-empty buckets: mergeable, and drawable as log bins."""

    buckets: tuple[tuple[int, int], ...] = ()
    count: int = 0
    min_us: int = 0
    max_us: int = 0
    total_us: int = 0

    @classmethod
    def of(cls, histogram: Histogram) -> HistogramData:
        return cls(
            tuple(histogram.nonzero()), histogram.n, histogram.min, histogram.max, histogram.total
        )

    def to_histogram(self) -> Histogram:
        return Histogram.from_nonzero(self.buckets, self.min_us, self.max_us, self.total_us)

    def log_bins(self, bins: int = 20) -> list[tuple[float, float, int]]:
        """(low_ms, high_ms, count) over `bins` log-spaced bins from min to max."""
        if not self.count:
            return []
        low = max(self.min_us, 1)
        high = max(self.max_us, low + 1)
        ratio = (high / low) ** (1 / bins)
        edges = [low * ratio**i for i in range(bins + 1)]
        counts = [0] * bins
        position = 0
        for index, count in self.buckets:
            value = sum(bucket_bounds(index)) / 2
            while position < bins - 1 and value >= edges[position + 1]:
                position += 1
            counts[position] += count
        return [(edges[i] / 1000, edges[i + 1] / 1000, counts[i]) for i in range(bins)]


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """One second of a run: throughput, latency percentiles, connections and load."""

    t: int  # seconds since the statistics started (the end of this second)
    rps: float
    errors: int
    concurrency: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    open: int
    active: int
    idle: int
    opened: int
    closed: int
    iterations: int = 0
    dropped: int = 0
    rate: float | None = None
    time_wait: int | None = None
    established: int | None = None
    cpu_percent: float | None = None


@dataclass(frozen=True, slots=True)
class StepSnapshot:
    """One step's (or URL's) requests, errors, latency and status codes."""

    name: str
    requests: int
    errors: int
    rps: float
    latency: LatencySummary
    status_codes: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class ErrorSnapshot:
    """Failures of one kind: how many, and the last message seen."""

    kind: str
    count: int
    last_message: str


class EventKind(enum.StrEnum):
    """What an event in a session's log is about."""

    START = "start"
    STOP = "stop"  # no new iterations; running ones finish
    STOPPED = "stopped"
    ABORT = "abort"  # running iterations cut at the end of the grace
    CONCURRENCY = "concurrency"
    MAX_VUS = "max_vus"
    RATE = "rate"
    REUSE = "reuse"
    HTTP = "http"
    PAUSE = "pause"
    RESUME = "resume"
    RESET = "reset"
    STAGE = "stage"
    PHASE = "phase"
    WARNING = "warning"  # something went wrong in the engine or a view of it
    DETECTOR = "detector"  # a detector's warning fired
    DUMP = "dump"  # a runbook's `dump`


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One entry of a session's log: the kind and its typed values, and the line for people."""

    t: float  # seconds since the session started
    kind: EventKind
    message: str
    before: float | None = None  # CONCURRENCY, MAX_VUS, RATE: the level before the change
    after: float | None = None  # ... the level after it; STAGE: the level it ramps to; START:
    # the level it starts at (VUs, or iterations a second in the open model)
    mode: str | None = None  # REUSE, PHASE: the reuse mode now; HTTP: the HTTP version now
    detector: str | None = None  # DETECTOR: the warning's kind (see `Snapshot.warnings`)


@dataclass(frozen=True, slots=True)
class ConnectionsSnapshot:
    """The connection pools: open and closed counts, reuse, timings and the top live ones."""

    open: int = 0
    connecting: int = 0
    active: int = 0
    idle: int = 0
    peak_open: int = 0
    opened_total: int = 0
    carried_over: int = 0  # open when the statistics (re)started, e.g. at the end of a warm-up
    closed_total: int = 0
    closed_by_reason: tuple[tuple[str, int], ...] = ()
    requests_new: int = 0
    requests_reused: int = 0
    connect_ms: LatencySummary = field(default_factory=LatencySummary)
    tls_ms: LatencySummary = field(default_factory=LatencySummary)
    requests_per_connection: HistogramData = field(default_factory=HistogramData)
    age_ms: HistogramData = field(default_factory=HistogramData)
    live: tuple[ConnectionInfo, ...] = ()  # the top live connections by requests served
    recent_closed: tuple[ConnectionInfo, ...] = ()
    keepalive_hints: tuple[tuple[float, int], ...] = ()

    @property
    def new_ratio(self) -> float:
        total = self.requests_new + self.requests_reused
        return self.requests_new / total if total else 0.0

    @property
    def requests_per_connection_mean(self) -> float:
        total = self.requests_new + self.requests_reused
        used = self.opened_total + self.carried_over
        return total / used if used else 0.0


@dataclass(frozen=True, slots=True)
class SocketCounts:
    """Sockets by TCP state."""

    established: int = 0
    time_wait: int = 0
    close_wait: int = 0
    syn_sent: int = 0
    other: int = 0


@dataclass(frozen=True, slots=True)
class KernelSnapshot:
    """Sockets by TCP state for the session's targets, both ends counted, and local limits."""

    targets: tuple[tuple[str, SocketCounts], ...] = ()
    total: SocketCounts = field(default_factory=SocketCounts)
    time_wait_peak: int = 0
    ephemeral_in_use: int = 0
    ephemeral_range: tuple[int, int] = (0, 0)
    fds_open: int = 0
    fds_limit: int = 0


@dataclass(frozen=True, slots=True)
class Warning:
    """A detector's finding: what, why it matters and what to do, with the values behind it."""

    kind: str
    message: str
    advice: str
    values: tuple[tuple[str, float], ...] = ()
    t: float = 0.0


@dataclass(frozen=True, slots=True)
class GeneratorLoad:
    """The load generator's own load: its CPU and the event loop's lag."""

    cpu_percent: float = 0.0
    loop_lag_ms: float = 0.0
    cpu_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """One reuse-mode phase of an A/B run (`--phases`), measured on its own."""

    name: str
    reuse_mode: str
    started_s: float
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    opened: int
    opened_per_s: float
    time_wait_peak: int
    time_wait_rise: int  # the peak above the count at the phase's start: what this phase added
    cpu_ms_per_request: float
    errors: int


@dataclass(frozen=True, slots=True)
class MixRow:
    """One runbook of a weighted mix (`--mix`): its weight and the iterations it ran."""

    runbook: str
    weight: int
    iterations: int
    failed: int


@dataclass(frozen=True, slots=True)
class WorkerSnapshot:
    """One worker of a multi-process or Ray session, as the console's row and the report show it."""

    worker: int  # 1-based
    node: str  # the host (local) or Ray node the worker runs on
    state: str
    requests_total: int
    rps_now: float
    rps_mean: float
    cpu_percent: float  # the last second while running; the run's mean once stopped
    connections_opened: int
    connections_open: int
    concurrency: int
    kernel: SocketCounts | None = None  # this node's sockets, from the node's kernel-view worker


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a session measured, as of one moment: immutable, plain data."""

    state: str
    elapsed_s: float  # since the statistics (re)started
    session_s: float  # since the session started
    mode: str  # "closed" (VUs) or "open" (arrival rate)
    concurrency: int  # the target number of VUs (closed) or the VU cap in use (open)
    vus: int  # VUs alive
    busy_vus: int
    rate: float | None
    max_vus: int
    reuse_mode: str
    http_version: str
    h2_connections: int
    scenario: str
    targets: tuple[str, ...]
    duration_s: float | None
    warm_up_s: float
    warming_up: bool
    requests_total: int
    errors_total: int
    http_errors_total: int
    rps_now: float
    rps_mean: float
    bytes_received: int
    latency: LatencySummary
    latency_window: LatencySummary
    histogram_total: HistogramData
    histogram_window: HistogramData
    ttfb: LatencySummary
    pool_wait: LatencySummary
    latency_new_connection: LatencySummary
    latency_reused_connection: LatencySummary
    handshake_time_share: float
    status_codes: tuple[tuple[int, int], ...]
    http_versions: tuple[tuple[str, int], ...]
    errors: tuple[ErrorSnapshot, ...]
    iterations_total: int
    iterations_succeeded: int
    iterations_failed: int
    dropped_iterations: int
    iteration_latency: LatencySummary
    failures: tuple[tuple[str, int], ...]
    steps: tuple[StepSnapshot, ...]
    timeline: tuple[TimelinePoint, ...]
    events: tuple[EventRecord, ...]
    connections: ConnectionsSnapshot
    kernel: KernelSnapshot | None = None
    warnings: tuple[Warning, ...] = ()
    generator: GeneratorLoad = field(default_factory=GeneratorLoad)
    phases: tuple[PhaseResult, ...] = ()
    http_version_in_use: str = ""  # the version of the latest response
    peak_vus: int = 0  # the most VUs running at once (since the statistics started)
    level_set_by_hand: bool = False  # a control changed the VUs or the rate during the run
    # What the statistics count from: "" the start, "warm-up" its end, "reset" a reset by hand.
    stats_since: str = ""
    cluster: str = "local"  # "local" (processes on this machine) or "ray"
    workers: tuple[WorkerSnapshot, ...] = ()  # one per worker when the load is split; else none
    # Histograms a merge needs bucket by bucket (ttfb, pool_wait, steps...): filled only by the
    # processes of a split session, so a single session's snapshots stay small.
    histograms: tuple[tuple[str, HistogramData], ...] = ()
    # Values a runbook's `secrets:` names, learnt while running in the process that took this
    # snapshot, so the process that writes the outputs masks them too. Never written anywhere.
    secrets_to_mask: tuple[str, ...] = ()
    # How connections were made when not straight to the target: the proxy (its URL without
    # credentials) and the unix socket every request went over; None: not used.
    proxy: str | None = None
    unix_socket: str | None = None
    mix: tuple[MixRow, ...] = ()  # --mix: a row per runbook
