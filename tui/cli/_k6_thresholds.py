"""k6's threshold syntax (`http_req_duration: p(95)<500`) in a --threshold: loadscope's equivalent.

k6 users paste their thresholds; loadscope's are expressions over its own names. This turns the
common k6 forms into the loadscope expression to write instead, for the error's hint.
"""

from __future__ import annotations

import re

THRESHOLD_DOCS = "docs/running.md#thresholds-in-ci"
_K6 = re.compile(
    r"\s*(?:(?P<metric>[a-z_]+)\s*:\s*)?"
    r"(?P<agg>p\(\s*(?P<pct>[\d.]+)\s*\)|avg|min|max|med|rate|count|value)"
    r"\s*(?P<op>===|==|!=|<=|>=|<|>)\s*(?P<value>-?[\d.]+)\s*"
)
_DURATION_METRICS = {"http_req_duration": "req_", "iteration_duration": ""}
_PERCENTILES = {"50": "p50", "90": "p90", "95": "p95", "99": "p99", "99.9": "p999"}
_AGGREGATES = {"avg": ("mean", "avg"), "min": ("min", "min"), "max": ("max", "max")}
_COUNTS = {
    ("http_reqs", "count"): "req_total",
    ("http_reqs", "rate"): "req_rps",
    ("iterations", "count"): "total",
    ("iterations", "rate"): "rps",
    ("dropped_iterations", "count"): "dropped_iterations",
}
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


def k6_hint(source: str) -> str | None:
    """The hint for a threshold written as k6 writes one; None when it does not look like one."""
    match = _K6.fullmatch(source)
    if match is None:
        return None
    equivalent = _equivalent(match)
    if equivalent is None:
        return f"that is k6's threshold syntax: loadscope's names are in {THRESHOLD_DOCS}"
    return f"that is k6's threshold syntax: in loadscope write `{equivalent}`"


def _equivalent(match: re.Match[str]) -> str | None:
    metric = match["metric"] or "http_req_duration"
    agg, op, value = match["agg"], match["op"].replace("===", "=="), float(match["value"])
    name = _name(metric, agg, match["pct"])
    if name is not None:
        return f"{name} {op} {_number(value)}"
    if agg != "rate":
        return None
    if metric == "http_req_failed":  # a fraction in k6, a percentage in loadscope
        return f"req_error_rate {op} {_number(value * 100)}"
    if metric == "checks":  # the share of passed checks: failed iterations, in %
        return f"error_rate {_FLIPPED[op]} {_number(100 - value * 100)}"
    return None


def _name(metric: str, agg: str, pct: str | None) -> str | None:
    if (metric, agg) in _COUNTS:
        return _COUNTS[(metric, agg)]
    prefix = _DURATION_METRICS.get(metric)
    if prefix is None:
        return None
    if pct is not None:
        measure = _PERCENTILES.get(pct.rstrip("0").rstrip(".") if "." in pct else pct)
        if measure is None or (not prefix and measure in ("p50", "p999")):
            return None  # iterations have no p50 (it is `med`) nor p999
        return prefix + measure
    if agg == "med":
        return "req_p50" if prefix else "med"
    if agg in _AGGREGATES:
        request, iteration = _AGGREGATES[agg]
        return prefix + request if prefix else iteration
    return None


def _number(value: float) -> str:
    return f"{round(value, 6):g}"
