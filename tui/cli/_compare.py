"""`loadscope compare BASE.json NEW.json`: did this change make it slower?

Each number gets its change and a verdict: better, worse, or within noise. A change is within
noise when it is no larger than the biggest of three bounds:
- two standard errors of the difference between the runs, from the spread of their per-second
  values (Welch, with a robust spread: 1.4826 x the median absolute deviation), for the
  numbers the timeline has per second (rps, p50, p90, p99) when each run has at least 5 full
  seconds: how much they wobbled inside each run says how much of the difference chance alone
  could make;
- 5% of the base value (runs on a shared machine drift by a few percent between them);
- a small absolute floor per number (0.1 error-rate points, one connection, ...), so tiny
  numbers do not flip verdicts.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..format import NO_VALUE, ms, number
from ..outputs.files import dumps
from ._errors import EXIT_OK, EXIT_THRESHOLD, UsageError
from ._plan import ComparePlan
from ._thresholds import Result, Verdict

if TYPE_CHECKING:
    from ...engine.runbook import Expression

RELATIVE_NOISE = 0.05
STANDARD_ERRORS = 2.0
MIN_SECONDS = 5  # fewer full seconds in a run say too little about its spread


@dataclass(frozen=True)
class Measure:
    """One compared number: where it is in a report and which way is better."""

    name: str
    label: str
    read: Callable[[dict[str, Any]], float | None]
    higher_is_better: bool
    floor: float  # changes up to this are noise whatever the base
    series: str = ""  # the timeline field holding this number per second, if any
    unit: str = ""


def _key(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def read(report: dict[str, Any]) -> float | None:
        value: Any = report
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return float(value) if isinstance(value, int | float) else None

    return read


def _rate(failed_key: str, total_key: str) -> Callable[[dict[str, Any]], float | None]:
    """The percentage of `total_key` that `failed_key` counts; 0 when there were none."""

    def read(report: dict[str, Any]) -> float | None:
        total, failed = report.get(total_key), report.get(failed_key)
        if not isinstance(total, int) or not isinstance(failed, int):
            return None
        return 100.0 * failed / total if total else 0.0

    return read


def _handshake_pct(report: dict[str, Any]) -> float | None:
    share = _key("handshake_time_share")(report)
    return None if share is None else 100.0 * share


# The names are `run --threshold`'s: runn's for whole iterations (RunN: what a test: failure
# fails), req_* for requests; a URL run's iteration is its one request.
MEASURES = (
    Measure("rps", "iterations/s", _key("iterations_per_second"), True, 1.0, "iterations"),
    Measure(
        "error_rate",
        "iterations failed",
        _rate("iterations_failed", "iterations_total"),
        False,
        0.1,
        unit="%",
    ),
    Measure("med", "iteration p50", _key("iteration_latency_ms", "p50"), False, 0.05, unit=" ms"),
    Measure("p90", "iteration p90", _key("iteration_latency_ms", "p90"), False, 0.05, unit=" ms"),
    Measure("p99", "iteration p99", _key("iteration_latency_ms", "p99"), False, 0.1, unit=" ms"),
    Measure("req_rps", "requests/s", _key("requests_per_second"), True, 1.0, "rps"),
    Measure(
        "req_error_rate",
        "request errors",
        _rate("errors_total", "requests_total"),
        False,
        0.1,
        unit="%",
    ),
    Measure("req_p50", "request p50", _key("latency_ms", "p50"), False, 0.05, "p50_ms", " ms"),
    Measure("req_p90", "request p90", _key("latency_ms", "p90"), False, 0.05, "p90_ms", " ms"),
    Measure("req_p99", "request p99", _key("latency_ms", "p99"), False, 0.1, "p99_ms", " ms"),
    Measure("connections_opened", "connections opened", _key("connections_opened"), False, 1.0),
    Measure(
        "requests_per_connection",
        "requests/connection",
        _key("requests_per_connection"),
        True,
        0.1,
    ),
    Measure("handshake_share", "handshake share", _handshake_pct, False, 0.5, unit="%"),
    Measure("time_wait_peak", "TIME_WAIT peak", _key("time_wait_peak"), False, 10.0),
)
# Before 2026-12 compare's p50 was the requests' (its rps, p90, p99 and error_rate too, which
# now mean what they mean in `run --threshold`); `p50` is no name there, so it is refused with
# where it went rather than quietly kept meaning something else than its neighbours.
RENAMED = {"p50": "req_p50 (requests) or med (whole iterations)"}


def threshold_names() -> frozenset[str]:
    names = set()
    for measure in MEASURES:
        names |= {f"{measure.name}_{s}" for s in ("base", "new", "change", "change_pct")}
    return frozenset(names)


def load_report(path: str) -> dict[str, Any]:
    """A `run`/`console` JSON report, or `loadt`'s (loadscope's report under "loadscope")."""
    if not path:
        raise UsageError("compare: an empty file name where a JSON report goes")
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"compare: {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"compare: {path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"compare: {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(document, dict) and isinstance(document.get("loadscope"), dict):
        document = document["loadscope"]
    if not isinstance(document, dict) or "schema_version" not in document:
        raise UsageError(f"compare: {path}: not a loadscope JSON report (no schema_version)")
    for key in ("requests_total", "latency_ms", "steps"):
        if key not in document:
            raise UsageError(f"compare: {path}: not a complete loadscope report (no {key})")
    if not document["requests_total"]:
        raise UsageError(f"compare: {path}: the run made no requests; nothing to compare")
    return document


def check_comparable(base: dict[str, Any], new: dict[str, Any], paths: tuple[str, str]) -> None:
    if base["schema_version"] != new["schema_version"]:
        raise UsageError(
            f"compare: report schema versions differ ({paths[0]}: {base['schema_version']}, "
            f"{paths[1]}: {new['schema_version']}); compare reports of one loadscope version"
        )
    if base["steps"] and new["steps"] and not set(base["steps"]) & set(new["steps"]):
        raise UsageError(
            f"compare: the reports share no step ({', '.join(sorted(base['steps']))} vs "
            f"{', '.join(sorted(new['steps']))}): they measured different things"
        )


def _series(report: dict[str, Any], field: str) -> list[float]:
    """The full seconds' values: the last point covers only the drain at the end."""
    values = []
    for point in (report.get("timeline") or [])[:-1]:
        value = point.get(field) if isinstance(point, dict) else None
        if isinstance(value, int | float):
            values.append(float(value))
    return values


def standard_error(values: list[float]) -> float | None:
    """The standard error of the mean of `values`, from a robust spread (1.4826 x the median
    absolute deviation: the standard deviation for normal data, but one spiky second, such as
    the first one's handshakes, does not inflate it). None with too few values to tell."""
    if len(values) < MIN_SECONDS:
        return None
    center = statistics.median(values)
    spread = 1.4826 * statistics.median(abs(v - center) for v in values)
    return spread / math.sqrt(len(values))


def noise_bound(measure: Measure, base: dict[str, Any], new: dict[str, Any], value: float) -> float:
    bound = max(measure.floor, RELATIVE_NOISE * abs(value))
    if measure.series:
        errors = [standard_error(_series(report, measure.series)) for report in (base, new)]
        if errors[0] is not None and errors[1] is not None:
            bound = max(bound, STANDARD_ERRORS * math.hypot(errors[0], errors[1]))
    return bound


def compare_measure(measure: Measure, base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    before, after = measure.read(base), measure.read(new)
    row: dict[str, Any] = {
        "label": measure.label,
        "base": before,
        "new": after,
        "unit": measure.unit,
    }
    if before is None or after is None:
        return {**row, "change": None, "change_pct": None, "noise": None, "verdict": "n/a"}
    change = after - before
    noise = noise_bound(measure, base, new, before)
    if abs(change) <= noise:
        verdict = "within noise"
    else:
        verdict = "better" if (change > 0) == measure.higher_is_better else "worse"
    pct = 100.0 * change / abs(before) if before else (0.0 if not change else math.inf)
    return {
        **row,
        "change": round(change, 4),
        "change_pct": round(pct, 2) if math.isfinite(pct) else None,
        "noise": round(noise, 4),
        "verdict": verdict,
    }


def _step_numbers(step: dict[str, Any]) -> dict[str, float | None]:
    latency = step.get("latency_ms") or {}
    requests = step.get("requests") or 0
    errors = step.get("errors") or 0
    return {
        "requests": requests,
        "error_rate": round(100.0 * errors / requests, 3) if requests else 0.0,
        "p50": latency.get("p50", 0.0),
        "p99": latency.get("p99", 0.0),
    }


def compare_steps(base: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = list(dict.fromkeys([*base["steps"], *new["steps"]]))
    steps = {}
    for name in names:
        before, after = base["steps"].get(name), new["steps"].get(name)
        row: dict[str, Any] = {
            "base": _step_numbers(before) if before else None,
            "new": _step_numbers(after) if after else None,
        }
        if before and after:
            old_p99, new_p99 = row["base"]["p99"], row["new"]["p99"]
            row["p99_change_pct"] = (
                round(100.0 * (new_p99 - old_p99) / old_p99, 2)
                if old_p99 and new_p99 is not None
                else None
            )
        steps[name] = row
    return steps


def comparison(base: dict[str, Any], new: dict[str, Any], paths: tuple[str, str]) -> dict[str, Any]:
    return {
        "base": paths[0],
        "new": paths[1],
        "noise": {
            "relative": RELATIVE_NOISE,
            "standard_errors": STANDARD_ERRORS,
            "rule": "within noise when |change| <= max(floor, 5% of base, "
            "2 standard errors from the per-second spread (MAD), given 5 full seconds)",
        },
        "metrics": {m.name: compare_measure(m, base, new) for m in MEASURES},
        "steps": compare_steps(base, new),
    }


def names_for_thresholds(result: dict[str, Any]) -> dict[str, float]:
    names: dict[str, float] = {}
    for name, row in result["metrics"].items():
        for key in ("base", "new", "change", "change_pct"):
            value = row[key]
            names[f"{name}_{key}"] = value if value is not None else 0.0
    return names


def check_renamed(unknown: list[str], source: str) -> None:
    for name in unknown:
        old = name.split("_", 1)[0]
        if old in RENAMED:
            raise UsageError(
                f"--threshold: {name} in `{source}`: compare's {old} is now {RENAMED[old]}, "
                "as in `run --threshold`"
            )


def compile_thresholds(sources: list[str]) -> list[Expression]:
    """Every threshold parsed and its names checked before the reports are read."""
    from ...engine.runbook import RunbookError, compile_expression

    known = threshold_names()
    compiled = []
    for source in (s for s in sources if s.strip()):
        try:
            expression = compile_expression(source, origin="--threshold")
        except RunbookError as exc:
            raise UsageError(str(exc)) from None
        unknown = sorted(expression.names - known)
        check_renamed(unknown, source)
        if unknown:
            raise UsageError(
                f"--threshold: unknown name {', '.join(unknown)} in `{source}` "
                f"(known: {', '.join(sorted(known))})"
            )
        compiled.append(expression)
    return compiled


def evaluate(expressions: list[Expression], names: dict[str, float]) -> Verdict:
    from ...engine.runbook import EvalError

    verdict = Verdict()
    for expression in expressions:
        try:
            passed = expression.is_true(names)
        except EvalError as exc:
            raise UsageError(f"--threshold: `{expression.source}`: {exc}") from None
        why = "" if passed else expression.explain(names)
        used: dict[str, float | None] = {name: names[name] for name in sorted(expression.names)}
        verdict.results.append(Result(expression.source, passed, why, used))
    return verdict


def _number(value: float | None, unit: str = "") -> str:
    """As the console and the text report write numbers (tui.format), "–" for none."""
    if value is None:
        return NO_VALUE
    if unit == " ms":
        return ms(value)
    text = number(abs(value))
    return ("-" if value < 0 else "") + text + unit


def _change(row: dict[str, Any]) -> str:
    if row["change"] is None:
        return NO_VALUE
    pct = row["change_pct"]
    sign = "+" if row["change"] >= 0 else ""
    if pct is None:
        return f"{sign}{_number(row['change'])}"
    return f"{pct:+,.0f}%" if abs(pct) >= 1000 else f"{pct:+.1f}%"


def _step_change(before: dict[str, Any], after: dict[str, Any]) -> str:
    if not after:
        return "only base"
    return "new step" if not before else NO_VALUE


def render_text(result: dict[str, Any]) -> str:
    lines = [f"base {result['base']}", f"new  {result['new']}", ""]
    header = f"{'':<22}{'base':>12}{'new':>12}{'change':>12}  verdict"
    lines.append(header)
    for row in result["metrics"].values():
        lines.append(
            f"{row['label']:<22}{_number(row['base'], row['unit']):>12}"
            f"{_number(row['new'], row['unit']):>12}{_change(row):>12}  {row['verdict']}"
        )
    lines += ["", "per step (p99 ms, error %)"]
    lines.append(
        f"{'':<30}{'base p99':>10}{'new p99':>10}{'change':>10}{'base err':>10}{'new err':>9}"
    )
    for name, row in result["steps"].items():
        before, after = row["base"] or {}, row["new"] or {}
        pct = row.get("p99_change_pct")
        change = f"{pct:+.1f}%" if pct is not None else _step_change(before, after)
        lines.append(
            f"{name[:29]:<30}{_number(before.get('p99'), ' ms'):>10}"
            f"{_number(after.get('p99'), ' ms'):>10}"
            f"{change:>10}{_number(before.get('error_rate')):>10}{_number(after.get('error_rate')):>9}"
        )
    lines += [
        "",
        "iterations: whole runbook passes (runn's RunN; a failed test: fails one); requests: "
        "each HTTP request",
        "within noise: |change| <= max(floor, 5% of base, 2 SE from the per-second spread)",
    ]
    return "\n".join(lines) + "\n"


def cmd_compare(args: ComparePlan) -> int:
    expressions = compile_thresholds(list(args.threshold))
    paths = (args.base, args.new)
    base, new = load_report(args.base), load_report(args.new)
    check_comparable(base, new, paths)
    result = comparison(base, new, paths)
    verdict = evaluate(expressions, names_for_thresholds(result))
    result["thresholds"] = verdict.as_report()
    if args.format == "json":
        print(dumps(result))
    else:
        print(render_text(result), end="")
    for line in verdict.failures:
        print(f"threshold failed: {line}", file=sys.stderr)
    return EXIT_THRESHOLD if verdict.failures else EXIT_OK
