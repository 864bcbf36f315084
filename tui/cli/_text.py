"""The text report: runn's loadt block first, then loadscope's own blocks, aligned."""

from __future__ import annotations

from typing import Any

from ...engine import HistogramData, HttpVersion, LatencySummary, Snapshot
from ...engine.durations import go_duration
from ..format import counted, elapsed, merge_equal_bins, ms, number, percent
from ._loadt import loadt_block
from ._mix import mix_lines

BAR = "█"
PARTIAL = " ▏▎▍▌▋▊▉"
HISTOGRAM_BINS = 12
BAR_WIDTH = 36


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    cells = max(0.0, min(1.0, fraction)) * width
    full = int(cells)
    rest = PARTIAL[int((cells - full) * 8)] if full < width else ""
    return (BAR * full + rest.strip()).ljust(width)


def histogram_lines(data: HistogramData, indent: str = "  ") -> list[str]:
    bins = merge_equal_bins(data.log_bins(HISTOGRAM_BINS))
    if not bins:
        return []
    peak = max(count for _, _, count in bins) or 1
    lines = []
    for low, high, count in bins:
        label = f"{ms(low):>9} – {ms(high):<9}" if ms(low) != ms(high) else f"{ms(low):>21}"
        lines.append(f"{indent}{label} {bar(count / peak)} {count:>10,}")
    return lines


def row(label: str, value: str, width: int = 22) -> str:
    return f"  {label:<{width}}{value}"


def counts(pairs: list[tuple[str, int]] | tuple[tuple[Any, int], ...]) -> str:
    return "  ".join(f"{k} ×{v:,}" for k, v in pairs) if pairs else "none"


def render_text(
    snapshot: Snapshot, report: dict[str, Any], loadt: dict[str, Any], *, title: str = ""
) -> str:
    parts = [_with_plan(loadt_block(loadt), report, snapshot).rstrip("\n"), ""]
    parts += phase_lines(snapshot)  # an A/B run's headline: right after runn's block
    parts += _requests(snapshot, report)
    parts += _latency(snapshot)
    parts += _iterations(snapshot)
    parts += _connections(snapshot, report)
    parts += worker_lines(report)
    parts += _steps(snapshot)
    parts += mix_lines(snapshot)
    parts += _warnings(report)
    parts += threshold_lines(report)
    if title:
        parts.insert(0, title)
    return "\n".join(parts).rstrip() + "\n"


def _with_plan(block: str, report: dict[str, Any], snapshot: Snapshot) -> str:
    """`Duration ...: 3.7s (interrupted; planned 30s)` when the run stopped before its plan;
    after a reset by hand, the time measured since (the numbers below count from there)."""
    planned = report.get("planned_duration_s")
    notes = []
    if report.get("stopped_early") and planned:
        notes.append(f"interrupted; planned {go_duration(planned)}")
    if snapshot.stats_since == "reset":
        # the line shows the plan when the run kept to it: then say what was measured
        measured = f" {go_duration(round(snapshot.elapsed_s, 1))}" if planned and not notes else ""
        notes.append(f"measured{measured} since the reset")
    if not notes:
        return block
    lines = block.split("\n")
    lines[2] += f" ({'; '.join(notes)})"
    return "\n".join(lines)


def _requests(snapshot: Snapshot, report: dict[str, Any]) -> list[str]:
    errors = [(e.kind, e.count) for e in snapshot.errors]
    lines = [
        "Requests",
        row(
            "total",
            f"{snapshot.requests_total:,} in {elapsed(report['duration_s'])} "
            f"= {number(report['requests_per_second'])} req/s",
        ),
        row("status codes", counts(snapshot.status_codes)),
        row("errors", counts(errors)),
    ]
    for error in snapshot.errors[:5]:
        lines.append(row("", f"{error.kind}: {error.last_message}"))
    lines += [
        row("HTTP versions", counts(snapshot.http_versions)),
        row("mode", _mode(snapshot, report)),
        "",
    ]
    return lines


def _mode(snapshot: Snapshot, report: dict[str, Any]) -> str:
    """What the run was: its model, its rate or stages, its peak VUs; never an unused default."""
    peak = report.get("peak_vus", snapshot.concurrency)
    stages = ",".join(
        f"{go_duration(s['duration_s'])}:{s['target']:g}" for s in report.get("stages", ())
    )
    if snapshot.mode == "open":
        rate = f"stages {stages} it/s" if stages else f"{snapshot.rate or 0:g} it/s"
        model = f"open, {rate}, peak {counted(peak, 'VU')} of max {snapshot.max_vus:,}"
        if snapshot.dropped_iterations:
            model += f", {snapshot.dropped_iterations:,} dropped"
    elif stages:
        model = f"closed, stages {stages} VUs, peak {counted(peak, 'VU')}"
    elif peak != snapshot.concurrency:
        model = f"closed, {counted(snapshot.concurrency, 'VU')} at the end, peak {peak:,}"
    else:
        model = f"closed, {counted(snapshot.concurrency, 'VU')}"
    if snapshot.level_set_by_hand:
        model += ", changed by hand"
    http = HttpVersion(snapshot.http_version).describe(snapshot.http_version_in_use)
    via = ""
    if snapshot.unix_socket:
        via = f"; over unix socket {snapshot.unix_socket}"
    elif snapshot.proxy:
        via = f"; via proxy {snapshot.proxy}"
    return f"{model}; reuse {snapshot.reuse_mode}; HTTP {http}{via}"


def _latency(snapshot: Snapshot) -> list[str]:
    lat = snapshot.latency
    if not lat.count:
        return ["Latency", "  no responses", ""]
    lines = [
        "Latency (requests)",
        "  "
        + "  ".join(
            f"{name} {ms(value)}"
            for name, value in (
                ("min", lat.min),
                ("mean", lat.mean),
                ("p50", lat.p50),
                ("p90", lat.p90),
                ("p95", lat.p95),
                ("p99", lat.p99),
                ("p99.9", lat.p999),
                ("max", lat.max),
            )
        ),
    ]
    lines += histogram_lines(snapshot.histogram_total)
    lines.append("")
    return lines


def _iterations(snapshot: Snapshot) -> list[str]:
    it = snapshot.iteration_latency
    lines = [
        "Iterations",
        row(
            "total",
            f"{snapshot.iterations_total:,}  succeeded {snapshot.iterations_succeeded:,}  "
            f"failed {snapshot.iterations_failed:,}",
        ),
    ]
    if it.count:
        lines.append(
            row(
                "latency", f"p50 {ms(it.p50)}  p90 {ms(it.p90)}  p99 {ms(it.p99)}  max {ms(it.max)}"
            )
        )
    for reason, count in snapshot.failures[:8]:
        lines.append(row("", f"×{count:<8,} {reason}"))
    lines.append("")
    return lines


def _carried_over(snapshot: Snapshot) -> str:
    """Connections already open when the statistics started: after a warm-up, or a reset."""
    carried = snapshot.connections.carried_over
    if not carried:
        return ""
    since = "from before the reset" if snapshot.stats_since == "reset" else "from the warm-up"
    return f"  (+{carried:,} {since})"


def _connections(snapshot: Snapshot, report: dict[str, Any]) -> list[str]:
    conns = snapshot.connections
    lines = [
        "Connections",
        row(
            "opened",
            f"{conns.opened_total:,}  closed {conns.closed_total:,}  peak open {conns.peak_open:,}"
            + _carried_over(snapshot),
        ),
        row("closed by reason", counts(conns.closed_by_reason)),
        row("requests/connection", number(conns.requests_per_connection_mean)),
        row(
            "on new connections",
            f"{percent(conns.new_ratio)} of requests ({conns.requests_new:,})",
        ),
    ]
    if conns.connect_ms.count:
        lines.append(
            row("connect", f"p50 {ms(conns.connect_ms.p50)}  p99 {ms(conns.connect_ms.p99)}")
        )
    if conns.tls_ms.count:
        lines.append(
            row("TLS handshake", f"p50 {ms(conns.tls_ms.p50)}  p99 {ms(conns.tls_ms.p99)}")
        )
    new, reused = snapshot.latency_new_connection, snapshot.latency_reused_connection
    if new.count and reused.count:
        lines.append(
            row(
                "latency new/reused",
                f"p50 {ms(new.p50)} / {ms(reused.p50)}  p99 {ms(new.p99)} / {ms(reused.p99)}",
            )
        )
    lines.append(
        row("handshake share", percent(snapshot.handshake_time_share) + " of request time")
    )
    if "time_wait_peak" in report:
        lines.append(row("TIME_WAIT peak", f"{report['time_wait_peak']:,}"))
    lines.append("")
    return lines


def worker_lines(report: dict[str, Any]) -> list[str]:
    """One line per worker process or Ray actor, when the session was split."""
    rows = report.get("per_worker") or []
    if report.get("workers", 1) < 2:
        return []
    lines = [f"Workers ({report['workers']}, {report.get('cluster', 'local')})"]
    for entry in rows:
        lines.append(
            row(
                f"#{entry['worker']} {entry['node']}",
                f"{counted(entry['requests_total'], 'request')} = "
                f"{number(entry['requests_per_second'])} req/s  "
                f"CPU {entry['cpu_percent']:.0f}%  "
                f"connections opened {entry['connections_opened']:,}",
            )
        )
    return [*lines, ""]


def phase_lines(snapshot: Snapshot) -> list[str]:
    """The A/B comparison: one row per phase of `--phases` (or a runbook's `x-loadscope`)."""
    if not snapshot.phases:
        return []
    header = (
        f"  {'phase':<20} {'time':>11}  {'req/s':>9}  {'p50':>8}  {'p99':>8}  "
        f"{'opened/s':>9}  {'TIME_WAIT+':>10}  {'CPU/req':>9}  {'errors':>6}"
    )
    lines = ["Phases (A/B of connection reuse)", header]
    for index, phase in enumerate(snapshot.phases, 1):
        start, end = phase.started_s, phase.started_s + phase.duration_s
        lines.append(
            f"  {f'{index} {phase.reuse_mode}':<20} {f'{start:.0f}–{end:.0f}s':>11}  "
            f"{number(phase.rps):>9}  {ms(phase.p50_ms):>8}  {ms(phase.p99_ms):>8}  "
            f"{number(phase.opened_per_s):>9}  {f'+{phase.time_wait_rise:,}':>10}  "
            f"{phase.cpu_ms_per_request:>7.3f}ms  {phase.errors:>6,}"
        )
    lines.append("  TIME_WAIT+: sockets the phase put in TIME_WAIT (its peak above its start)")
    lines.append("")
    return lines


def measured(value: float, summary: LatencySummary) -> float | None:
    """A latency to show, or None ("–") when nothing was timed."""
    return value if summary.count else None


def _steps(snapshot: Snapshot) -> list[str]:
    if not snapshot.steps:
        return []
    width = min(max(len(s.name) for s in snapshot.steps), 48)
    header = f"  {'step':<{width}}  {'requests':>10}  {'errors':>7}  {'p50':>9}  {'p99':>9}  codes"
    lines = ["Steps", header]
    for step in snapshot.steps:
        name = step.name if len(step.name) <= width else step.name[: width - 1] + "…"
        codes = " ".join(f"{c}×{n:,}" for c, n in step.status_codes) or "-"
        lines.append(
            f"  {name:<{width}}  {step.requests:>10,}  {step.errors:>7,}  "
            f"{ms(measured(step.latency.p50, step.latency)):>9}  "
            f"{ms(measured(step.latency.p99, step.latency)):>9}  {codes}"
        )
    lines.append("")
    return lines


def _warnings(report: dict[str, Any]) -> list[str]:
    if not report["warnings"]:
        return []
    lines = ["Warnings"]
    for warning in report["warnings"]:
        lines.append(f"  ! {warning['kind']}: {warning['message']}")
        lines.append(f"    → {warning['advice']}")
    lines.append("")
    return lines


def threshold_lines(report: dict[str, Any]) -> list[str]:
    """Each threshold, passed or failed, with the numbers it was checked on and what they are
    (runn's `p99` is over whole iterations, `req_p99` over requests)."""
    results = report.get("thresholds") or []
    if not results:
        return []
    lines = ["Thresholds"]
    for result in results:
        mark = "✓ passed" if result["passed"] else "✗ FAILED"
        first = result.get("first_failed_at_s")
        when = "" if first is None else f"  (first failed live at {first:,.1f}s)"
        lines.append(f"  {mark}  {result['expression']}{when}")
        for name, value in result.get("values", {}).items():
            meaning = result.get("meanings", {}).get(name, name)
            shown = "n/a" if value is None else f"{value:,}"
            lines.append(f"      {name} = {shown} ({meaning})")
    aborted = report.get("aborted_by")
    if aborted:
        lines.append(
            f"  --abort-on-fail: {aborted['expression']} stopped the run at {aborted['at_s']:,.1f}s"
        )
    lines.append("")
    return lines


def summary_line(report: dict[str, Any]) -> str:
    lat = report["latency_ms"]
    return (
        f"{counted(report['requests_total'], 'request')} in {elapsed(report['duration_s'])}, "
        f"{number(report['requests_per_second'])} req/s, "
        f"{counted(report['errors_total'], 'error')}, "
        f"{report['iterations_failed']:,} of {counted(report['iterations_total'], 'iteration')} "
        f"failed, request p50 {ms(lat['p50'])}, "
        f"request p99 {ms(lat['p99'])}, "
        f"{counted(report['connections_opened'], 'connection')} opened"
    )
