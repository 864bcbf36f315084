"""`loadt`'s plan from runn loadt's flags, and runn's report block and JSON keys, with values
formatted as runn formats them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ...engine import HttpVersion, LatencySummary, SessionConfig, Snapshot
from ...engine.control import ScenarioSpec
from ._errors import UsageError
from ._network import apply_network_options
from ._options import (
    LoadFlags,
    LoadPlan,
    check_books,
    duration,
    http3_version,
    iterations,
    labelled,
    limits,
    parse_size,
    parse_vars,
    with_workers,
)
from ._selection import RunbookSelection, env_file_values, note_ignored, select_runbooks

UNLIMITED_VUS = 10_000  # --load-concurrent 0: "unlimited", as in runn
DEFAULT_WARM_UP = "5sec"  # runn loadt's


@dataclass(frozen=True)
class LoadtFlags(RunbookSelection):
    """runn loadt's flags (and loadscope's own limits and workers), as typed."""

    load_concurrent: int = 1
    duration: str = "10sec"
    warm_up: str | None = None  # runn's 5sec, but none with --iterations (see loadt_warm_up)
    max_rps: int = 1
    connect_timeout: str = "10s"
    max_body: str = "64MiB"
    max_header_size: str = "1MiB"
    http1: bool = False
    http2: bool = False
    http3: bool = False
    var: tuple[str, ...] = ()
    iterations: int | None = None
    env_file: str | None = None
    workers: str = "1"
    cluster: str = "local"
    pin: bool = True


def loadt_http_version(flags: LoadtFlags) -> HttpVersion:
    if flags.http3:
        return http3_version(LoadFlags(http3=True), None)
    if flags.http2:
        return HttpVersion.HTTP2
    return HttpVersion.HTTP1 if flags.http1 else HttpVersion.AUTO


@dataclass(frozen=True)
class LoadtFigures:
    """What runn's block prints as given: the flags, not what the run reached."""

    concurrent: int
    max_rps: int


def loadt_warm_up(flags: LoadtFlags) -> str:
    """runn's default warm-up, unless --iterations caps the run: each of its N counts."""
    if flags.warm_up is not None:
        return flags.warm_up
    return "0s" if flags.iterations is not None else DEFAULT_WARM_UP


def loadt_plan(flags: LoadtFlags) -> tuple[LoadPlan, LoadtFigures]:
    if flags.load_concurrent < 0:
        raise UsageError("--load-concurrent cannot be negative (0 means unlimited)")
    if flags.max_rps < 0:
        raise UsageError("--max-rps cannot be negative (0 means unlimited)")
    if flags.load_concurrent == 0 and flags.max_rps == 0:
        raise UsageError("--load-concurrent 0 (unlimited) needs a --max-rps cap")
    run_for = duration(flags.duration, "--duration")
    if run_for <= 0:
        raise UsageError("--duration must be more than 0")
    connect_timeout, max_body = limits(flags.connect_timeout, flags.max_body)
    unlimited = flags.load_concurrent == 0  # unlimited VUs under the cap: iterations on time
    warm_up = duration(loadt_warm_up(flags), "--warm-up")
    config = SessionConfig(
        concurrency=flags.load_concurrent,
        duration=run_for,
        warm_up=warm_up,
        max_iterations_per_second=float(flags.max_rps) or None,
        max_iterations=iterations(flags.iterations, warm_up),
        connect_timeout=connect_timeout,
        max_body=max_body,
        rate=float(flags.max_rps) if unlimited else None,
        max_vus=UNLIMITED_VUS if unlimited else None,
        http_version=loadt_http_version(flags),
    )
    apply_network_options(config)  # the environment's proxies
    note_ignored(flags)
    env = env_file_values(flags.env_file) or {}
    books = select_runbooks(flags, {**os.environ, **env} if env else None)
    check_books(books)
    books = labelled(books, flags.label, {**os.environ, **env} if env else None)
    options = flags.runbook_options()
    config.requests_per_vu = min(options.concurrent, len(books))  # runbooks side by side
    spec = ScenarioSpec(
        runbooks=tuple(books),
        vars=parse_vars(flags.var),
        env=env,
        runbook_options=options,
        max_header_size=parse_size(flags.max_header_size, "--max-header-size"),
    )
    plan = with_workers(LoadPlan(spec, config), flags.workers, flags.cluster, pin=flags.pin)
    return plan, LoadtFigures(flags.load_concurrent, flags.max_rps)


_BLOCK = """\
Number of runbooks per RunN....: {runbooks}
Warm up time (--warm-up).......: {warm_up}
Duration (--duration)..........: {duration}
Concurrent (--load-concurrent).: {concurrent}
Max RunN per second (--max-rps): {max_rps}

Total..........................: {total}
Succeeded......................: {succeeded}
Failed.........................: {failed}
Error rate.....................: {error_rate}%
RunN per second................: {rps}
Latency .......................: max={max} min={min} avg={avg} med={med} \
p(90)={p90} p(95)={p95} p(99)={p99}
"""


def commaf(value: float, digits: int = 1) -> str:
    """Thousands separators, at most `digits` decimals, no trailing zeros (go-humanize)."""
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def loadt_values(
    snapshot: Snapshot,
    *,
    runbooks: int,
    warm_up: str,
    duration: str,
    duration_s: float,
    concurrent: int,
    max_rps: int,
) -> dict[str, Any]:
    """The numbers behind runn's block and JSON, measured over whole iterations (RunN)."""
    total = snapshot.iterations_total
    failed = snapshot.iterations_failed
    latency = snapshot.iteration_latency
    return {
        "runbook_count": runbooks,
        "warm_up": warm_up,
        "duration": duration,
        "concurrent": concurrent,
        "max_rps": max_rps,
        "total": total,
        "succeeded": snapshot.iterations_succeeded,
        "failed": failed,
        "error_rate": (failed / total * 100) if total else 0.0,
        "rps": total / duration_s if duration_s else 0.0,
        # None (JSON null, "n/a" in the block) when no iteration was timed: never a made-up 0
        **{key: (value if latency.count else None) for key, value in _latency(latency).items()},
    }


def _latency(latency: LatencySummary) -> dict[str, float]:
    return {
        "latency_max_ms": latency.max,
        "latency_min_ms": latency.min,
        "latency_avg_ms": latency.mean,
        "latency_med_ms": latency.p50,
        "latency_p90_ms": latency.p90,
        "latency_p95_ms": latency.p95,
        "latency_p99_ms": latency.p99,
    }


def latency_text(value: float | None) -> str:
    """runn's one decimal, but enough digits below 1 ms that 0.04 ms does not read as 0ms."""
    if value is None:
        return "n/a"
    return commaf(value, 1 if value >= 1 else 3) + "ms"


def loadt_block(values: dict[str, Any]) -> str:
    return _BLOCK.format(
        runbooks=values["runbook_count"],
        warm_up=values["warm_up"],
        duration=values["duration"],
        concurrent=values["concurrent"],
        max_rps=values["max_rps"],
        total=values["total"],
        succeeded=values["succeeded"],
        failed=values["failed"],
        error_rate=commaf(values["error_rate"]),
        rps=commaf(values["rps"]),
        max=latency_text(values["latency_max_ms"]),
        min=latency_text(values["latency_min_ms"]),
        avg=latency_text(values["latency_avg_ms"]),
        med=latency_text(values["latency_med_ms"]),
        p90=latency_text(values["latency_p90_ms"]),
        p95=latency_text(values["latency_p95_ms"]),
        p99=latency_text(values["latency_p99_ms"]),
    )


ITERATION_NAMES = frozenset(
    {"total", "succeeded", "failed", "error_rate", "rps", "max", "mid", "med", "min", "p90"}
    | {"p95", "p99", "avg"}
)
THRESHOLD_NAMES = frozenset(
    {
        "total",
        "succeeded",
        "failed",
        "error_rate",
        "rps",
        "max",
        "mid",
        "med",
        "min",
        "p90",
        "p95",
        "p99",
        "avg",
        "req_total",
        "req_rps",
        "req_errors",
        "req_error_rate",
        "req_http_errors",
        "req_min",
        "req_mean",
        "req_p50",
        "req_p90",
        "req_p95",
        "req_p99",
        "req_p999",
        "req_max",
        "dropped_iterations",
        "connections_opened",
        "connections_closed",
        "connections_peak_open",
        "new_connection_ratio",
        "requests_per_connection",
        "handshake_time_share",
        "warnings",
        "time_wait_peak",
    }
)


def threshold_names(values: dict[str, Any], report: dict[str, Any]) -> dict[str, float | None]:
    """The names a --threshold may use: runn's, then loadscope's own."""
    latency = report["latency_ms"]
    names: dict[str, float | None] = {
        "total": values["total"],
        "succeeded": values["succeeded"],
        "failed": values["failed"],
        "error_rate": values["error_rate"],
        "rps": values["rps"],
        "max": values["latency_max_ms"],
        "mid": values["latency_med_ms"],
        "med": values["latency_med_ms"],
        "min": values["latency_min_ms"],
        "p90": values["latency_p90_ms"],
        "p95": values["latency_p95_ms"],
        "p99": values["latency_p99_ms"],
        "avg": values["latency_avg_ms"],
        "req_total": report["requests_total"],
        "req_rps": report["requests_per_second"],
        "req_errors": report["errors_total"],
        "req_error_rate": (
            report["errors_total"] / report["requests_total"] * 100
            if report["requests_total"]
            else 0.0
        ),
        "req_http_errors": report["http_errors_total"],
        "req_min": latency["min"],
        "req_mean": latency["mean"],
        "req_p50": latency["p50"],
        "req_p90": latency["p90"],
        "req_p95": latency["p95"],
        "req_p99": latency["p99"],
        "req_p999": latency["p999"],
        "req_max": latency["max"],
        "dropped_iterations": report["dropped_iterations"],
        "connections_opened": report["connections_opened"],
        "connections_closed": report["connections_closed"],
        "connections_peak_open": report["connections_peak_open"],
        "new_connection_ratio": report["new_connection_ratio"],
        "requests_per_connection": report["requests_per_connection"],
        "handshake_time_share": report["handshake_time_share"],
        "warnings": len(report["warnings"]),
    }
    names["time_wait_peak"] = report.get("time_wait_peak", 0)
    return names
