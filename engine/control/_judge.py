"""The detectors over a split session: one `Observation` a second from the merged snapshot.

No worker judges its own share (a pool too small for 25 VUs may be right for 50, and churn is a
rate of the whole); the controller feeds the merged seconds to one `Detectors`. A saturated
generator is a single worker's problem, so `generator_saturated` names the busiest worker.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Sequence

from .._config import SessionConfig
from ..diagnostics import SETTLE_S, Detectors, Kind, Observation
from ..metrics import SHARED_EVENT_KINDS, KernelSnapshot, Snapshot, Warning, WorkerPart

CHANGE_KINDS = SHARED_EVENT_KINDS - {"start", "stop", "stopped", "reset"}


class MergedJudge:
    """Feeds each new complete second of the merged session to the detectors."""

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.detectors = Detectors()
        self._last_t = 0
        self._levels: deque[tuple[object, ...]] = deque(maxlen=SETTLE_S)
        self._answered = 0
        self._opened = 0
        self._closes: dict[str, int] = {}
        self._busiest = 0  # the worker with the highest CPU in the latest second
        self._busiest_node = ""

    def observe(self, merged: Snapshot, parts: Sequence[WorkerPart]) -> None:
        if merged.elapsed_s < self._last_t:  # statistics were reset
            self._rebase()
        for point in merged.timeline:
            if point.t > self._last_t:
                self._last_t = point.t
                self.detectors.observe(self._observation(merged, parts, point.t))

    def warnings(self) -> tuple[Warning, ...]:
        return tuple(self._named(w) for w in self.detectors.warnings)

    def _rebase(self) -> None:
        self.detectors.reset()
        self._levels.clear()
        self._last_t = self._answered = self._opened = 0
        self._closes = {}

    def _named(self, warning: Warning) -> Warning:
        if warning.kind != Kind.GENERATOR_SATURATED.value or not self._busiest:
            return warning
        where = f"worker {self._busiest} on {self._busiest_node}"
        return dataclasses.replace(warning, message=f"{where}: {warning.message}")

    def _observation(self, merged: Snapshot, parts: Sequence[WorkerPart], t: int) -> Observation:
        conns = merged.connections
        answered = conns.requests_new + conns.requests_reused
        closes_total = dict(conns.closed_by_reason)
        closes = {
            reason: n - self._closes.get(reason, 0)
            for reason, n in closes_total.items()
            if n != self._closes.get(reason, 0)
        }
        cpu, lag = self._busiest_worker(parts, t)
        observation = Observation(
            t=float(t),
            steady=self._steady(merged),
            reuse_mode=merged.reuse_mode,
            http2=merged.http_version_in_use == "HTTP/2",
            open_model=merged.mode == "open",
            concurrency=merged.busy_vus if merged.mode == "open" else merged.concurrency,
            pool_keep=sum(self.config.pool_keep(w.concurrency) for w in merged.workers),
            answered=answered - self._answered,
            opened=conns.opened_total - self._opened,
            closes=closes,
            answered_total=answered,
            closes_total=closes_total,
            server_keepalive_s=min(dict(conns.keepalive_hints), default=None),
            server_idle_close_s=_server_idle_close(merged),
            client_idle_timeout_s=self.config.idle_timeout,
            cpu_percent=cpu,
            loop_lag_ms=lag,
        )
        if merged.kernel is not None:
            observation = _with_kernel(observation, merged.kernel)
        self._answered, self._opened, self._closes = answered, conns.opened_total, closes_total
        return observation

    def _busiest_worker(self, parts: Sequence[WorkerPart], t: int) -> tuple[float, float]:
        best = (-1.0, 0.0)
        for part in parts:
            point = next((p for p in reversed(part.snapshot.timeline) if p.t == t), None)
            cpu = point.cpu_percent if point is not None and point.cpu_percent else 0.0
            if cpu > best[0]:
                best = (cpu, part.snapshot.generator.loop_lag_ms)
                self._busiest, self._busiest_node = part.worker, part.node
        return max(best[0], 0.0), best[1]

    def _steady(self, merged: Snapshot) -> bool:
        level = (
            merged.rate if merged.mode == "open" else merged.concurrency,
            merged.reuse_mode,
            merged.http_version,
            merged.state,
        )
        self._levels.append(level)
        if merged.state != "running" or merged.elapsed_s < SETTLE_S - 0.5:
            return False
        if len(self._levels) < SETTLE_S or any(seen != level for seen in self._levels):
            return False
        since = merged.session_s - SETTLE_S
        for event in reversed(merged.events):
            if event.t < since:
                break
            if str(event.kind) in CHANGE_KINDS:  # an EventKind is a str enum
                return False
        return True


def _server_idle_close(merged: Snapshot) -> float | None:
    idle = sorted(
        c.idle_s
        for c in merged.connections.recent_closed
        if c.close_reason == "peer_closed" and c.idle_s > 0
    )
    return idle[len(idle) // 2] if idle else None


def _with_kernel(observation: Observation, kernel: KernelSnapshot) -> Observation:
    low, high = kernel.ephemeral_range
    return dataclasses.replace(
        observation,
        time_wait=kernel.total.time_wait,
        time_wait_at=time.monotonic(),
        ephemeral_in_use=kernel.ephemeral_in_use,
        ephemeral_size=high - low + 1 if high else None,
        fds_open=kernel.fds_open,
        fds_limit=kernel.fds_limit,
    )
