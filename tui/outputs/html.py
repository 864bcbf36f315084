"""The HTML report: one self-contained file that works offline.

Everything is inline: the style sheet, the charts (SVG, see `svg.py`), no script, no font and
no image fetched from anywhere. Text that contains a URL (the target) has its `://` written as
`&#58;//`: the browser shows it unchanged, and the file holds no literal URL at all, so a
search of the file for `http://` finds nothing to fetch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from ...engine import EventKind, EventRecord, Snapshot
from ..format import counted, elapsed
from .files import write_atomic
from .svg import Chart, Marker, Series, histogram_chart, line_chart

MARKED_EVENTS = frozenset(
    {
        EventKind.CONCURRENCY,
        EventKind.RATE,
        EventKind.MAX_VUS,
        EventKind.REUSE,
        EventKind.HTTP,
        EventKind.RESET,
        EventKind.PAUSE,
        EventKind.RESUME,
        EventKind.STAGE,
        EventKind.PHASE,
    }
)
HISTOGRAM_BINS = 30
TOP_REASONS = 10  # failure reasons listed; the rest are summed in one row

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f6f7f9;color:#1d232b}
main{max-width:920px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5b6470;margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:10px 12px}
.card b{display:block;font-size:20px}.card span{color:#5b6470;font-size:12px}
table{border-collapse:collapse;background:#fff;width:100%;border:1px solid #dde1e6}
th,td{padding:5px 10px;border-bottom:1px solid #eceff2;text-align:right}
th:first-child,td:first-child,td.l,th.l{text-align:left}th{background:#eef1f4;font-weight:600}
.chart{background:#fff;border:1px solid #dde1e6;border-radius:8px;margin:0 0 12px;
width:100%;height:auto}
.chart .title{font-weight:600;font-size:13px}.chart .axis{font-size:11px;fill:#5b6470}
.chart .grid{stroke:#eceff2}.marker line{stroke:#8a55d9;stroke-dasharray:4 3}
.marker text{font-size:10px;fill:#8a55d9}
.warn{background:#fff8e6;border:1px solid #f0d48a;border-radius:8px;padding:8px 12px;margin:8px 0}
.pass{color:#1f7a3a}.fail{color:#b3261e;font-weight:600}
footer{color:#5b6470;font-size:12px;margin-top:28px}
"""


def text(value: object) -> str:
    """Escaped for HTML, with no literal URL left in the file (see the module's docstring)."""
    return escape(str(value)).replace("://", "&#58;//")


def html_report(snapshot: Snapshot, report: dict[str, Any]) -> str:
    """The report of `snapshot` (whose JSON report is `report`) as one HTML document."""
    offset = snapshot.session_s - snapshot.elapsed_s  # events count from the session's start
    markers = change_markers(snapshot.events, offset, report.get("timeline") or [])
    bins = snapshot.histogram_total.log_bins(HISTOGRAM_BINS)
    return render(report, markers, bins)


def write_html(path: str | Path, snapshot: Snapshot, report: dict[str, Any]) -> None:
    """Written beside `path` and renamed into place, with the mode of the other reports."""
    write_atomic(path, html_report(snapshot, report))


def change_markers(
    events: Iterable[EventRecord], offset: float, timeline: Sequence[dict[str, Any]]
) -> list[Marker]:
    """Knob turns and resets, on the charts' time axis (seconds since the statistics began)."""
    if not timeline:
        return []
    last = timeline[-1]["t"]
    return [
        Marker(round(event.t - offset, 1), f"{event.kind}: {event.message}")
        for event in events
        if event.kind in MARKED_EVENTS and 0 <= event.t - offset <= last
    ]


def render(
    report: dict[str, Any], markers: Sequence[Marker], bins: Sequence[tuple[float, float, int]]
) -> str:
    sections = [
        _header(report),
        _summary(report),
        _thresholds(report),
        _warnings(report),
        "<h2>Per second</h2>",
        *_charts(report, markers),
        _changes(markers),
        "<h2>Latency histogram</h2>",
        histogram_chart("requests by latency (ms, log bins)", bins, "#3b6fd8"),
        _failures(report),
        _steps(report),
        _phases(report),
        _errors(report),
    ]
    body = "\n".join(section for section in sections if section)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>loadscope report: {text(report.get('scenario', ''))}</title>"
        f"<style>{STYLE}</style></head>\n<body><main>\n{body}\n"
        f"<footer>loadscope · written {time.strftime('%Y-%m-%d %H:%M:%S')}</footer>"
        "</main></body></html>\n"
    )


def _header(report: dict[str, Any]) -> str:
    targets = ", ".join(report.get("targets") or [])
    mode = report.get("mode", "closed")
    if mode == "open":
        cap = counted(report.get("max_vus", 0), "VU")
        load = f"open model, {report.get('rate') or 0:g} it/s (max {cap})"
    else:
        load = counted(report.get("concurrency", 0), "VU")
    took = elapsed(report.get("duration_s", 0), " ")
    interrupted = " · interrupted" if report.get("interrupted") else ""
    return (
        f"<h1>loadscope report: {text(report.get('scenario', ''))}</h1>"
        f'<p class="sub">{text(targets)} · {text(load)} · {took} · '
        f"reuse {text(report.get('reuse_mode', ''))}{interrupted}</p>"
    )


def _card(value: str, label: str, *, bad: bool = False) -> str:
    value_class = ' class="fail"' if bad else ""
    return f'<div class="card"><b{value_class}>{text(value)}</b><span>{text(label)}</span></div>'


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole if whole else 0:.2f}%"


def _ms(value: float | None, unit: str = " ms") -> str:
    """Two decimals, or "–" when nothing was timed (no response)."""
    return "–" if value is None else f"{value:.2f}{unit}"


def _summary(report: dict[str, Any]) -> str:
    latency = report.get("latency_ms") or {}
    total = report.get("requests_total", 0)
    errors = report.get("errors_total", 0)
    iterations = report.get("iterations_total", 0)
    failed = report.get("iterations_failed", 0)
    cards = [
        _card(f"{total:,}", "requests"),
        _card(f"{report.get('requests_per_second', 0):,.1f}", "requests/s"),
        _card(f"{errors:,} ({_share(errors, total)})", "request errors"),
        _card(_ms(latency.get("p50")), "p50"),
        _card(_ms(latency.get("p90")), "p90"),
        _card(_ms(latency.get("p99")), "p99"),
        _card(_ms(latency.get("max")), "max"),
        _card(f"{iterations:,}", "iterations"),
        _card(f"{failed:,} ({_share(failed, iterations)})", "failed iterations", bad=failed > 0),
        _card(f"{report.get('connections_opened', 0):,}", "connections opened"),
        _card(f"{report.get('connections_peak_open', 0):,}", "peak open connections"),
        _card(f"{report.get('requests_per_connection', 0):,.1f}", "requests/connection"),
        _card(f"{100 * report.get('handshake_time_share', 0):.1f}%", "time in handshakes"),
    ]
    if "time_wait_peak" in report:
        cards.append(_card(f"{report['time_wait_peak']:,}", "TIME_WAIT peak"))
    return f'<h2>Summary</h2><div class="cards">{"".join(cards)}</div>'


def _thresholds(report: dict[str, Any]) -> str:
    results = report.get("thresholds") or []
    if not results:
        return ""
    rows = "".join(
        f"<tr><td><code>{text(r['expression'])}</code></td>"
        + (
            '<td class="pass">passed</td>'
            if r["passed"]
            else f'<td class="fail l">failed: {text(r.get("why", ""))}</td>'
        )
        + "</tr>"
        for r in results
    )
    header = '<tr><th>expression</th><th class="l">result</th></tr>'
    return f"<h2>Thresholds</h2><table>{header}{rows}</table>"


def _warnings(report: dict[str, Any]) -> str:
    warnings = report.get("warnings") or []
    if not warnings:
        return ""
    items = "".join(
        f'<div class="warn"><b>{text(w["message"])}</b><br>{text(w["advice"])}</div>'
        for w in warnings
    )
    return f"<h2>Warnings</h2>{items}"


def _column(timeline: Sequence[dict[str, Any]], key: str) -> list[float | None]:
    return [point.get(key) for point in timeline]


def _charts(report: dict[str, Any], markers: Sequence[Marker]) -> list[str]:
    timeline = report.get("timeline") or []
    xs = [float(point["t"]) for point in timeline]

    def chart(title: str, series: list[Series], unit: str = "") -> str:
        return line_chart(Chart(title, xs, series, unit, markers))

    charts = [
        chart(
            "throughput and errors per second",
            [
                Series("rps", _column(timeline, "rps"), "#3b6fd8"),
                Series("errors", _column(timeline, "errors"), "#d8453b", bars=True),
            ],
        ),
        chart(
            "latency over time",
            [
                Series("p50", _column(timeline, "p50_ms"), "#2f9e66"),
                Series("p99", _column(timeline, "p99_ms"), "#d8833b"),
            ],
            " ms",
        ),
        chart(
            "connections",
            [
                Series("open", _column(timeline, "open"), "#3b6fd8"),
                Series("opened/s", _column(timeline, "opened"), "#2f9e66", bars=True),
                Series("closed/s", _column(timeline, "closed"), "#d8453b", bars=True),
            ],
        ),
    ]
    if any(point.get("time_wait") is not None for point in timeline):
        charts.append(
            chart(
                "sockets in TIME_WAIT",
                [Series("TIME_WAIT", _column(timeline, "time_wait"), "#8a55d9")],
            )
        )
    return charts


def _changes(markers: Sequence[Marker]) -> str:
    if not markers:
        return ""
    rows = "".join(
        f'<tr><td>{n}</td><td>{m.x:g} s</td><td class="l">{text(m.label)}</td></tr>'
        for n, m in enumerate(markers, 1)
    )
    return (
        '<h2>Changes during the run</h2><table><tr><th>#</th><th>at</th><th class="l">what</th>'
        "</tr>"
        f"{rows}</table>"
    )


def _table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<h2>{text(title)}</h2><table><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    """Numbers to the right, words to the left."""
    number = str(value).replace(",", "").replace(".", "", 1).isdigit()
    return f"<td>{text(value)}</td>" if number else f'<td class="l">{text(value)}</td>'


def _steps(report: dict[str, Any]) -> str:
    steps = report.get("steps") or {}
    if not steps:
        return ""
    rows = []
    for name, step in steps.items():
        latency = step.get("latency_ms") or {}
        codes = ", ".join(f"{code}: {n:,}" for code, n in (step.get("status_codes") or {}).items())
        rows.append(
            [
                name,
                f"{step.get('requests', 0):,}",
                f"{step.get('errors', 0):,}",
                *(_ms(latency.get(key), unit="") for key in ("p50", "p90", "p99", "max")),
                codes,
            ]
        )
    header = ["step", "requests", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms", "status"]
    return _table("Steps", header, rows)


def _phases(report: dict[str, Any]) -> str:
    phases = report.get("phases") or []
    if not phases:
        return ""
    rows = [
        [
            p["name"],
            p["reuse_mode"],
            f"{p['duration_s']:.1f}",
            f"{p['rps']:,.1f}",
            f"{p['p50_ms']:.2f}",
            f"{p['p99_ms']:.2f}",
            f"{p['opened']:,}",
            f"{p['time_wait_rise']:,}",
            f"{p['errors']:,}",
        ]
        for p in phases
    ]
    header = ["phase", "reuse", "s", "rps", "p50 ms", "p99 ms", "opened", "TIME_WAIT +", "errors"]
    return _table("Phases", header, rows)


def _failures(report: dict[str, Any]) -> str:
    """Why iterations failed (a test:, a request error...), the most common first: the JSON
    report's `failures`, whose counts add up to iterations_failed."""
    failures = sorted((report.get("failures") or {}).items(), key=lambda item: -item[1])
    if not failures:
        return ""
    failed = report.get("iterations_failed") or sum(n for _, n in failures)
    rows = [[f"{n:,}", _share(n, failed), reason] for reason, n in failures[:TOP_REASONS]]
    rest = failures[TOP_REASONS:]
    if rest:
        count = sum(n for _, n in rest)
        rows.append([f"{count:,}", _share(count, failed), f"{len(rest):,} other reasons"])
    return _table("Failed iterations", ["count", "share", "reason"], rows)


def _errors(report: dict[str, Any]) -> str:
    kinds = report.get("error_kinds") or {}
    if not kinds:
        return ""
    messages = report.get("error_messages") or {}
    rows = [[kind, f"{n:,}", messages.get(kind, "")] for kind, n in kinds.items()]
    return _table("Errors", ["kind", "count", "last message"], rows)
