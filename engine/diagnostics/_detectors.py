"""Detectors: what makes a session churn connections, judged once a second.

Each detector reads a short history of `Observation`s (one a second) and says whether its
condition holds now. A kind fires once, is logged once, and from then on only its numbers
update, so a long run does not spam the event log. Rates are judged in steady state only: after
the first seconds and with no change of load level, reuse mode or HTTP version for a few seconds,
since a change opens and closes connections by design.

When the run ends, the churn kinds that have not fired are judged once more on the whole run's
totals (`RunTotals`): a run too short for a steady window still says that it churned.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..metrics import Warning

SETTLE_S = 2  # seconds after a start, reset or change before a rate is judged
WINDOW = 3  # steady seconds a rate is judged over
HISTORY = 16

CHURN_MIN_SHARE = 0.005  # below one new connection per 200 requests it is rotation, not churn
LOW_REUSE_BELOW = 2.0  # requests per connection
LOW_REUSE_MIN_OPENED = 3
TIME_WAIT_STEPS = 3
TIME_WAIT_MIN_GROWTH = 10
TIME_WAIT_MIN_RELATIVE = 0.05
SERVER_CLOSE_MIN = 3
SERVER_CLOSE_MIN_SHARE = 0.01  # server closes per answered request
USAGE_LIMIT = 0.8
CPU_SATURATED = 90.0
LAG_SATURATED_MS = 50.0

RUN_MIN_ANSWERED = 20  # a run's totals say nothing about reuse below this many responses
RUN_CHURN_MIN_SHARE = 0.05  # connections opened beyond those the load held, per response

SERVER_CLOSE_REASONS = {
    "connection_close": "answered `Connection: close`",
    "peer_closed": "closed by the server",
    "goaway": "ended by GOAWAY",
    "connection_reset": "reset by the server",
}


class Kind(enum.StrEnum):
    """Warning kinds, in the order the report lists them."""

    CONNECTION_CHURN = "connection_churn"
    LOW_REUSE = "low_reuse"
    TIME_WAIT_GROWTH = "time_wait_growth"
    SERVER_CLOSES = "server_closes"
    POOL_TOO_SMALL = "pool_too_small"
    PORTS_OR_FDS = "ports_or_fds"
    GENERATOR_SATURATED = "generator_saturated"


@dataclass(frozen=True, slots=True)
class Observation:
    """One second of a session, as the detectors see it."""

    t: float  # seconds since the statistics started
    steady: bool  # load level, reuse mode and HTTP version unchanged for SETTLE_S
    reuse_mode: str
    http2: bool  # the latest responses came over HTTP/2 (no idle pool to size)
    open_model: bool
    concurrency: int  # VUs wanted (closed model) or iterations in flight (open model)
    pool_keep: int  # idle HTTP/1.1 connections the shared pool keeps per origin
    answered: int = 0  # responses this second
    opened: int = 0  # connections opened this second
    closes: Mapping[str, int] = field(default_factory=dict)  # this second, by reason
    answered_total: int = 0  # since the statistics started
    closes_total: Mapping[str, int] = field(default_factory=dict)
    server_keepalive_s: float | None = None  # the shortest `Keep-Alive: timeout=N` answered
    server_idle_close_s: float | None = None  # how long connections sat idle before the server
    client_idle_timeout_s: float = 90.0
    time_wait: int | None = None  # kernel view: both ends, all targets
    time_wait_at: float = 0.0  # when the kernel view read it (monotonic seconds)
    ephemeral_in_use: int | None = None
    ephemeral_size: int | None = None
    fds_open: int | None = None
    fds_limit: int | None = None
    cpu_percent: float = 0.0
    loop_lag_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector saw: the message, the advice and the values behind them."""

    message: str
    advice: str
    values: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class RunTotals:
    """A whole run (since the statistics started), as the final judgement sees it."""

    seconds: float
    reuse_mode: str
    one_mode: bool  # the reuse mode and HTTP version never changed during the run
    answered: int
    opened: int
    held: int  # the most connections open at once: what the load itself needed
    time_wait_start: int = 0  # this session's TIME_WAIT when the run began
    # This session's TIME_WAIT at its last two readings (monotonic time, count), oldest first.
    time_wait_readings: tuple[tuple[float, int], ...] = ()


History = Sequence[Observation]


class Detectors:
    def __init__(self) -> None:
        self._history: deque[Observation] = deque(maxlen=HISTORY)
        self._warnings: dict[Kind, Warning] = {}

    @property
    def warnings(self) -> tuple[Warning, ...]:
        return tuple(self._warnings[kind] for kind in Kind if kind in self._warnings)

    def reset(self) -> None:
        self._history.clear()
        self._warnings.clear()

    def observe(self, observation: Observation) -> list[Warning]:
        """Judge one more second; return the warnings that fired for the first time."""
        self._history.append(observation)
        history = list(self._history)
        fired = []
        for kind, check in CHECKS.items():
            finding = check(history)
            if finding is None:
                continue
            earlier = self._warnings.get(kind)
            t = earlier.t if earlier is not None else observation.t
            warning = Warning(kind.value, finding.message, finding.advice, finding.values, t)
            self._warnings[kind] = warning
            if earlier is None:
                fired.append(warning)
        return fired

    def judge_run(self, totals: RunTotals) -> list[Warning]:
        """Judge the whole run's totals for the kinds that have not fired; return those that
        fire now."""
        fired = []
        for kind, check in RUN_CHECKS.items():
            finding = None if kind in self._warnings else check(totals)
            if finding is not None:
                warning = Warning(
                    kind.value, finding.message, finding.advice, finding.values, totals.seconds
                )
                self._warnings[kind] = warning
                fired.append(warning)
        return fired


# -- helpers -------------------------------------------------------------------------------------
def _steady_tail(history: History, seconds: int) -> History | None:
    tail = history[-seconds:]
    if len(tail) < seconds or not all(o.steady for o in tail):
        return None
    return tail


def _rate(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def _churn_advice(mode: str) -> str:
    if mode == "per-iteration":
        return (
            "per-iteration reuse throws every connection away when an iteration ends: "
            "use --reuse shared (or per-vu) to keep them"
        )
    return (
        "a kept-alive pool should open nothing once warm: see server_closes and "
        "pool_too_small; raise --max-idle to the concurrency if the pool is capped"
    )


def _low_reuse_advice(mode: str) -> str:
    if mode == "none":
        return "reuse none opens a connection per request: use --reuse shared to keep them"
    if mode == "per-iteration":
        return "each iteration opens its own connections: use --reuse shared or per-vu"
    return "the server or the pool closes connections early: see server_closes, pool_too_small"


TIME_WAIT_ADVICE = (
    "every closed connection leaves a TIME_WAIT for 60 s on the side that closed first, "
    "holding a port: reuse connections to stop feeding it"
)


# -- the detectors -------------------------------------------------------------------------------
def connection_churn(history: History) -> Finding | None:
    """Connections keep opening in steady state while reuse is on."""
    tail = _steady_tail(history, WINDOW)
    if tail is None or tail[-1].reuse_mode == "none" or any(o.opened == 0 for o in tail):
        return None
    opened = sum(o.opened for o in tail)
    answered = sum(o.answered for o in tail)
    if opened < CHURN_MIN_SHARE * answered:
        return None
    mode = tail[-1].reuse_mode
    per_second = opened / len(tail)
    share = opened / answered if answered else 1.0
    return Finding(
        f"{_rate(per_second)} new connections/s in steady state with reuse {mode} "
        f"(one per {1 / share:.1f} requests)",
        _churn_advice(mode),
        (
            ("opened_per_s", round(per_second, 1)),
            ("requests_per_s", round(answered / len(tail), 1)),
            ("new_connection_share", round(share, 4)),
        ),
    )


def low_reuse(history: History) -> Finding | None:
    """Connections serve fewer than two requests each."""
    tail = _steady_tail(history, WINDOW)
    if tail is None:
        return None
    opened = sum(o.opened for o in tail)
    if opened < LOW_REUSE_MIN_OPENED:
        return None
    per_connection = sum(o.answered for o in tail) / opened
    if per_connection >= LOW_REUSE_BELOW:
        return None
    shown = math.floor(per_connection * 100) / 100  # 1.996 is under 2: never show "2.00"
    return Finding(
        f"{shown:.2f} requests per connection: connections close almost as soon as they open",
        _low_reuse_advice(tail[-1].reuse_mode),
        (
            ("requests_per_connection", shown),
            ("opened_per_s", round(opened / len(tail), 1)),
        ),
    )


def time_wait_growth(history: History) -> Finding | None:
    """TIME_WAIT sockets keep growing (a one-off jump does not count)."""
    tail = _steady_tail(history, TIME_WAIT_STEPS + 1)
    if tail is None or any(o.time_wait is None for o in tail):
        return None
    counts = [o.time_wait or 0 for o in tail]
    growth = counts[-1] - counts[0]
    still_growing = counts[-1] > counts[1]
    if not still_growing or growth < max(TIME_WAIT_MIN_GROWTH, TIME_WAIT_MIN_RELATIVE * counts[0]):
        return None
    span = tail[-1].time_wait_at - tail[0].time_wait_at  # readings may be 2 s apart
    per_second = growth / (span if span > 0 else max(tail[-1].t - tail[0].t, 1.0))
    return Finding(
        f"TIME_WAIT keeps growing: {counts[-1]:,} sockets, +{_rate(per_second)}/s",
        TIME_WAIT_ADVICE,
        (("time_wait", counts[-1]), ("growth_per_s", round(per_second, 1))),
    )


def server_closes(history: History) -> Finding | None:
    """The server closes connections: `Connection: close`, closes, GOAWAY, or a keep-alive
    timeout shorter than the client's idle expiry (from `Keep-Alive` or from idle closes)."""
    last = history[-1]
    closes = {reason: last.closes_total.get(reason, 0) for reason in SERVER_CLOSE_REASONS}
    by_server = sum(closes.values())
    expired = last.closes_total.get("keepalive_expiry", 0)
    keepalive = last.server_keepalive_s or last.server_idle_close_s
    idle = last.client_idle_timeout_s
    short_keepalive = keepalive is not None and keepalive < idle
    values: list[tuple[str, float]] = [(reason, n) for reason, n in closes.items()]
    values.append(("keepalive_expiry", expired))
    if keepalive is not None:
        values.append(("server_keepalive_s", round(keepalive, 3)))
    values.append(("client_idle_timeout_s", idle))
    advice = (
        "let the server keep connections open: drop `Connection: close`, raise its keep-alive "
        "timeout and its requests-per-connection limit; or set the client's idle expiry below "
        "the server's keep-alive timeout"
    )
    if by_server >= SERVER_CLOSE_MIN and by_server >= SERVER_CLOSE_MIN_SHARE * last.answered_total:
        share = by_server / last.answered_total if last.answered_total else 1.0
        values.append(("server_closes_per_request", round(share, 4)))
        parts = ", ".join(f"{n:,} {SERVER_CLOSE_REASONS[r]}" for r, n in closes.items() if n)
        message = f"the server closes connections: {parts} (one per {1 / share:.1f} requests)"
        if short_keepalive:
            message += (
                f"; its keep-alive timeout ({keepalive:g} s) is below the client's ({idle:g} s)"
            )
        return Finding(message, advice, tuple(values))
    if short_keepalive and expired >= SERVER_CLOSE_MIN:
        return Finding(
            f"the server's keep-alive timeout ({keepalive:g} s) is shorter than the client's idle "
            f"expiry ({idle:g} s): {expired:,} idle connections were dropped early and reopened",
            advice,
            tuple(values),
        )
    return None


def pool_too_small(history: History) -> Finding | None:
    """More requests run at once than the shared pool keeps connections for."""
    tail = _steady_tail(history, 2)
    if tail is None:
        return None
    last = tail[-1]
    if last.reuse_mode != "shared" or last.http2:
        return None
    concurrency = max(o.concurrency for o in tail)
    if concurrency <= last.pool_keep:
        return None
    if last.open_model and not any(o.closes.get("pool_shrink") for o in tail):
        return None  # in flight only for a moment: judge by the closes it causes
    shrunk = last.closes_total.get("pool_shrink", 0)
    return Finding(
        f"concurrency {concurrency} is above the pool's keep-alive size {last.pool_keep}: "
        f"connections beyond {last.pool_keep} close when they fall idle"
        + (f" ({shrunk:,} so far)" if shrunk else ""),
        f"raise --max-idle to at least {concurrency} (Go's MaxIdleConnsPerHost defaults to 2)",
        (
            ("concurrency", concurrency),
            ("pool_keep", last.pool_keep),
            ("pool_shrink_closes", shrunk),
        ),
    )


def ports_or_fds(history: History) -> Finding | None:
    """Ephemeral ports or file descriptors are more than 80% used."""
    last = history[-1]
    parts, advice = [], []
    values: list[tuple[str, float]] = []
    if last.ephemeral_in_use is not None and last.ephemeral_size:
        share = last.ephemeral_in_use / last.ephemeral_size
        values += [
            ("ephemeral_in_use", last.ephemeral_in_use),
            ("ephemeral_ports", last.ephemeral_size),
            ("ephemeral_share", round(share, 4)),
        ]
        if share > USAGE_LIMIT:
            parts.append(
                f"ephemeral ports {share:.0%} used ({last.ephemeral_in_use:,} of "
                f"{last.ephemeral_size:,})"
            )
            advice.append(
                "reuse connections (each TIME_WAIT holds a port for 60 s) or widen "
                "net.ipv4.ip_local_port_range"
            )
    if last.fds_open is not None and last.fds_limit:
        share = last.fds_open / last.fds_limit
        values += [
            ("fds_open", last.fds_open),
            ("fds_limit", last.fds_limit),
            ("fds_share", round(share, 4)),
        ]
        if share > USAGE_LIMIT:
            parts.append(
                f"file descriptors {share:.0%} used ({last.fds_open:,} of {last.fds_limit:,})"
            )
            advice.append("raise the open-file limit (ulimit -n) or lower the concurrency")
    if not parts:
        return None
    return Finding("; ".join(parts), "; ".join(advice), tuple(values))


def generator_saturated(history: History) -> Finding | None:
    """The generator is out of CPU or its event loop is late: its numbers include its own
    queueing."""
    tail = history[-WINDOW:]
    if len(tail) < WINDOW or tail[0].t < SETTLE_S - 0.5:
        return None
    busy = all(o.cpu_percent >= CPU_SATURATED for o in tail)
    late = sum(o.loop_lag_ms > LAG_SATURATED_MS for o in tail) >= 2
    if not (busy or late):
        return None
    cpu = sum(o.cpu_percent for o in tail) / len(tail)
    lag = max(o.loop_lag_ms for o in tail)
    lag_part = f", event-loop lag up to {lag:.0f} ms" if lag >= 1 else ""  # never "up to 0 ms"
    return Finding(
        f"the generator is saturated (CPU {cpu:.0f}%{lag_part}): "
        "its latencies include its own queueing",
        "lower the concurrency or rate, or spread the load over more generators; TLS handshakes "
        "and HTTP/2 cost the most CPU per request",
        (("cpu_percent", round(cpu, 1)), ("loop_lag_ms", round(lag, 1))),
    )


CHECKS: dict[Kind, Callable[[History], Finding | None]] = {
    Kind.CONNECTION_CHURN: connection_churn,
    Kind.LOW_REUSE: low_reuse,
    Kind.TIME_WAIT_GROWTH: time_wait_growth,
    Kind.SERVER_CLOSES: server_closes,
    Kind.POOL_TOO_SMALL: pool_too_small,
    Kind.PORTS_OR_FDS: ports_or_fds,
    Kind.GENERATOR_SATURATED: generator_saturated,
}


# -- the whole run, judged when it ends ----------------------------------------------------------
def run_connection_churn(run: RunTotals) -> Finding | None:
    """Connections kept opening beyond those the load held, while reuse was on."""
    replaced = run.opened - run.held
    if not run.one_mode or run.reuse_mode == "none" or run.answered < RUN_MIN_ANSWERED:
        return None
    if replaced < LOW_REUSE_MIN_OPENED or replaced < RUN_CHURN_MIN_SHARE * run.answered:
        return None
    seconds = max(run.seconds, 1e-3)
    share = run.opened / run.answered
    return Finding(
        f"{_rate(run.opened / seconds)} new connections/s over the whole run with reuse "
        f"{run.reuse_mode} (one per {1 / share:.1f} requests; at most {run.held:,} were open "
        "at once)",
        _churn_advice(run.reuse_mode),
        (
            ("opened_per_s", round(run.opened / seconds, 1)),
            ("requests_per_s", round(run.answered / seconds, 1)),
            ("new_connection_share", round(share, 4)),
        ),
    )


def run_low_reuse(run: RunTotals) -> Finding | None:
    """Over the whole run, connections served fewer than two requests each (a run that only
    opened the connections its load held has not had the time to reuse them)."""
    if not run.one_mode or run.answered < RUN_MIN_ANSWERED:
        return None
    if run.opened <= run.held or run.opened < LOW_REUSE_MIN_OPENED:
        return None
    per_connection = run.answered / run.opened
    if per_connection >= LOW_REUSE_BELOW:
        return None
    shown = math.floor(per_connection * 100) / 100
    return Finding(
        f"{shown:.2f} requests per connection over the whole run: connections close almost as "
        "soon as they open",
        _low_reuse_advice(run.reuse_mode),
        (
            ("requests_per_connection", shown),
            ("opened_per_s", round(run.opened / max(run.seconds, 1e-3), 1)),
        ),
    )


def run_time_wait_growth(run: RunTotals) -> Finding | None:
    """This session's TIME_WAIT grew over the run and was still growing at its end."""
    if len(run.time_wait_readings) < 2:
        return None
    (before_at, before), (last_at, last) = run.time_wait_readings[-2:]
    growth = last - run.time_wait_start
    if last <= before or growth < max(
        TIME_WAIT_MIN_GROWTH, TIME_WAIT_MIN_RELATIVE * run.time_wait_start
    ):
        return None
    per_second = (last - before) / max(last_at - before_at, 1e-3)
    return Finding(
        f"TIME_WAIT grew all run: {last:,} sockets at the end, +{_rate(per_second)}/s",
        TIME_WAIT_ADVICE,
        (("time_wait", last), ("growth_per_s", round(per_second, 1))),
    )


RUN_CHECKS: dict[Kind, Callable[[RunTotals], Finding | None]] = {
    Kind.CONNECTION_CHURN: run_connection_churn,
    Kind.LOW_REUSE: run_low_reuse,
    Kind.TIME_WAIT_GROWTH: run_time_wait_growth,
}
