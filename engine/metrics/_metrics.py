"""Session metrics: counters and histograms fed per request, folded into per-second points.

The hot path (`record_response`) touches a handful of counters and four histograms; nothing is
kept per request, so memory stays flat however long a session runs.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from ..transport import RawResponse
from ._histogram import Histogram

MAX_ERROR_MESSAGE = 300
MAX_FAILURE_REASONS = 500  # distinct reasons kept; more are counted under OTHER_FAILURES
OTHER_FAILURES = "other failures (more than 500 distinct reasons)"


class StepStats:
    """Per-request-name counts (a runbook step, or the URL of a one-step run)."""

    __slots__ = (
        "errors",
        "histogram",
        "index",
        "name",
        "requests",
        "second_requests",
        "status_codes",
        "window_requests",
    )

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.index = index
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.errors = 0
        self.histogram = Histogram()
        self.status_codes: dict[int, int] = {}
        self.second_requests = 0
        self.window_requests: deque[int] = deque(maxlen=10)


@dataclass(slots=True)
class SecondSample:
    """What one second of traffic left behind, before it becomes a timeline point."""

    requests: int
    errors: int
    iterations: int
    dropped: int
    histogram: Histogram


class Metrics:
    def __init__(self, window_seconds: int = 10) -> None:
        self.window_seconds = max(1, window_seconds)
        self.steps: list[StepStats] = []
        self.reset()

    def add_step(self, name: str) -> StepStats:
        for step in self.steps:
            if step.name == name:
                return step
        step = StepStats(name, len(self.steps))
        self.steps.append(step)
        return step

    def reset(self) -> None:
        self.requests = 0
        self.errors = 0
        self.http_errors = 0
        self.latency = Histogram()
        self.ttfb = Histogram()
        self.wait = Histogram()
        self.latency_new = Histogram()
        self.latency_reused = Histogram()
        self.handshake_us = 0
        self.requests_new = 0
        self.requests_reused = 0
        self.bytes_received = 0
        self.status_codes: dict[int, int] = {}
        self.http_versions: dict[bytes, int] = {}
        self.last_version = b""
        self.error_kinds: Counter[str] = Counter()
        self.last_error: dict[str, str] = {}
        self.iterations = 0
        self.iterations_ok = 0
        self.iterations_failed = 0
        self.iterations_dropped = 0
        self.iteration_latency = Histogram()
        self.failures: Counter[str] = Counter()
        self.second = Histogram()
        self._second_requests = 0
        self._second_errors = 0
        self._second_iterations = 0
        self._second_dropped = 0
        self.window: deque[Histogram] = deque()
        self.window_histogram = Histogram()
        for step in self.steps:
            step.reset()

    # -- the hot path -------------------------------------------------------------------------
    def record_response(self, step: StepStats, raw: RawResponse, total_us: int) -> None:
        self.requests += 1
        self._second_requests += 1
        self.latency.record(total_us)
        self.second.record(total_us)
        step.requests += 1
        step.second_requests += 1
        step.histogram.record(total_us)
        status = raw.status
        codes = self.status_codes
        codes[status] = codes.get(status, 0) + 1
        codes = step.status_codes
        codes[status] = codes.get(status, 0) + 1
        if status >= 400:
            self.http_errors += 1
        version = self.last_version = raw.http_version
        self.http_versions[version] = self.http_versions.get(version, 0) + 1
        self.bytes_received += raw.body_size
        if raw.new_connection:
            self.requests_new += 1
            self.latency_new.record(total_us)
            self.handshake_us += raw.connect_us + raw.tls_us
        else:
            self.requests_reused += 1
            self.latency_reused.record(total_us)
        if raw.ttfb_us:
            self.ttfb.record(raw.ttfb_us)
        self.wait.record(raw.wait_us)

    def record_error(self, step: StepStats, kind: str, message: str, total_us: int) -> None:
        self.requests += 1
        self.errors += 1
        self._second_requests += 1
        self._second_errors += 1
        step.requests += 1
        step.errors += 1
        step.second_requests += 1
        self.error_kinds[kind] += 1
        self.last_error[kind] = message[:MAX_ERROR_MESSAGE]

    def record_rejected(self, step: StepStats, kind: str, message: str) -> None:
        """A response already recorded that the scenario counts as an error (an unexpected
        status): an error of `kind`, not a second request."""
        self.errors += 1
        self._second_errors += 1
        step.errors += 1
        self.error_kinds[kind] += 1
        self.last_error[kind] = message[:MAX_ERROR_MESSAGE]

    def record_iteration(self, total_us: int | None, failure: str | None) -> None:
        """One finished iteration; `total_us` None when it was cut short (no latency sample)."""
        self.iterations += 1
        self._second_iterations += 1
        if total_us is not None:
            self.iteration_latency.record(total_us)
        if failure is None:
            self.iterations_ok += 1
        else:
            self.iterations_failed += 1
            reason = failure[:MAX_ERROR_MESSAGE]
            if reason not in self.failures and len(self.failures) >= MAX_FAILURE_REASONS:
                reason = OTHER_FAILURES  # memory stays flat even if every reason is unique
            self.failures[reason] += 1

    def record_dropped(self) -> None:
        self.iterations_dropped += 1
        self._second_dropped += 1

    # -- the 1 Hz tick ------------------------------------------------------------------------
    def take_second(self) -> SecondSample:
        sample = SecondSample(
            self._second_requests,
            self._second_errors,
            self._second_iterations,
            self._second_dropped,
            self.second,
        )
        self.second = Histogram()
        self._second_requests = self._second_errors = 0
        self._second_iterations = self._second_dropped = 0
        self.window.append(sample.histogram)
        self.window_histogram.merge(sample.histogram)
        while len(self.window) > self.window_seconds:
            self.window_histogram.subtract(self.window.popleft())
        for step in self.steps:
            step.window_requests.append(step.second_requests)
            step.second_requests = 0
        return sample
