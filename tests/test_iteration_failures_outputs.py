"""Failed iterations (a `test:` that does not hold) in the HTML report and on `/metrics`, as the
JSON report counts them: iterations_total, iterations_failed, failures by reason."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from loadscope.engine.target import TargetProcess
from loadscope.tui.cli import main
from loadscope.tui.outputs.html import render
from loadscope.tui.outputs.prometheus import (
    MAX_REASON_LABELS,
    OTHER_REASON,
    SessionCollector,
    numbers_from,
)

from .fake_snapshots import make_snapshot
from .test_cli_iterations_trial import failing_book

Samples = dict[str, list[tuple[dict[str, str], float]]]


def _samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_metrics_count_iterations_and_failures_by_reason() -> None:
    snapshot = dataclasses.replace(
        make_snapshot(5), iterations_total=40, iterations_failed=7,
        failures=(("book:home: test failed: current.res.status == 999", 6), ("timeout", 1)),
    )  # fmt: skip
    collector = SessionCollector()
    collector.update(numbers_from(snapshot, {}))
    samples = _samples(generate_latest(_registry(collector)).decode())
    assert samples["loadscope_iterations_total"] == [({}, 40.0)]
    failed = {
        labels["reason"]: value for labels, value in samples["loadscope_iterations_failed_total"]
    }
    assert failed == {"book:home: test failed: current.res.status == 999": 6.0, "timeout": 1.0}


def test_reason_labels_stay_few_and_never_vanish() -> None:
    """Reasons carrying a value each (an id) must not make a series per iteration."""
    collector = SessionCollector()
    base = make_snapshot(5)
    first = tuple((f"id {n} not found", 1) for n in range(MAX_REASON_LABELS + 5))
    collector.update(numbers_from(dataclasses.replace(base, failures=first), {}))
    later = (("id 99 not found", 30), *first)  # a newcomer, now the most common
    collector.update(numbers_from(dataclasses.replace(base, failures=later), {}))
    samples = _samples(generate_latest(_registry(collector)).decode())
    failed = {
        labels["reason"]: value for labels, value in samples["loadscope_iterations_failed_total"]
    }
    assert len(failed) == MAX_REASON_LABELS + 1
    assert {f"id {n} not found" for n in range(MAX_REASON_LABELS)} <= set(failed)
    assert failed[OTHER_REASON] == 5 + 30
    assert sum(failed.values()) == sum(n for _, n in later)


def _registry(collector: SessionCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def test_html_summary_shows_failed_iterations_and_their_reasons(
    target: TargetProcess, tmp_path: Path
) -> None:
    html, out = tmp_path / "r.html", tmp_path / "r.json"
    book = failing_book(tmp_path, target.http_url)
    code = main(["run", book, "--iterations", "3", "--html", str(html), "--out", str(out), "-q"])
    assert code == 0
    report = json.loads(out.read_text())
    assert (report["iterations_total"], report["iterations_failed"]) == (3, 3)
    page = html.read_text()
    assert '<b class="fail">3 (100.00%)</b><span>failed iterations</span>' in page
    assert "<h2>Failed iterations</h2>" in page
    assert "f:home: test failed: current.res.status == 999" in page


def test_html_lists_the_top_reasons_and_sums_the_rest() -> None:
    failures = {f"reason {n}": 20 - n for n in range(12)}
    report = {"iterations_total": 500, "iterations_failed": sum(failures.values()),
              "failures": failures}  # fmt: skip
    page = render(report, [], [])
    assert "reason 9" in page and "reason 10" not in page
    assert "2 other reasons" in page
