"""`loadscope compare BASE.json NEW.json`: changes, verdicts, thresholds and bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from loadscope.engine.target import TargetProcess
from loadscope.tui.cli._compare import MEASURES, compare_measure

from .cli_support import loadscope, loadscope_in_process

# One worker runs the module: its tests share the module fixture's runs.
pytestmark = pytest.mark.xdist_group("compare")


@pytest.fixture(scope="module")
def reports(target: TargetProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two runs of the same URL, and one of another."""
    folder = tmp_path_factory.mktemp("compare")
    runs = {
        "a": (target.http_url + "/json", "2"),
        "b": (target.http_url + "/json", "4"),
        "other": (target.http_url + "/", "2"),
    }
    for name, (url, vus) in runs.items():
        out = folder / f"{name}.json"
        result = loadscope("run", url, "-d", "2s", "-c", vus, "--out", str(out), "-q")
        assert result.code == 0, result.err
    return {name: folder / f"{name}.json" for name in runs}


@pytest.mark.slow
def test_text_table_has_each_number_with_a_verdict(reports: dict[str, Path]) -> None:
    result = loadscope("compare", str(reports["a"]), str(reports["b"]))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    for label in ("iterations/s", "iterations failed", "iteration p99", "requests/s",
                  "request p50", "request p90", "request p99", "request errors",
                  "connections opened"):  # fmt: skip
        row = next(line for line in lines if line.startswith(label + " "))
        assert row.rstrip().endswith(("better", "worse", "within noise")), row
    assert any(line.startswith("GET /json") for line in lines)


@pytest.mark.slow
def test_json_format_matches_the_reports(reports: dict[str, Path]) -> None:
    result = loadscope("compare", str(reports["a"]), str(reports["b"]), "--format", "json")
    assert result.code == 0, result.err
    comparison = json.loads(result.out)
    base, new = (json.loads(reports[n].read_text()) for n in ("a", "b"))
    p99 = comparison["metrics"]["req_p99"]
    assert (p99["base"], p99["new"]) == (base["latency_ms"]["p99"], new["latency_ms"]["p99"])
    expected = (
        100 * (new["latency_ms"]["p99"] - base["latency_ms"]["p99"]) / base["latency_ms"]["p99"]
    )
    assert p99["change_pct"] == pytest.approx(expected, abs=0.01)
    assert comparison["metrics"]["connections_opened"]["new"] == new["connections_opened"]
    assert set(comparison["steps"]) == {"GET /json"}


@pytest.mark.slow
def test_a_failing_threshold_is_exit_1_and_a_passing_one_exit_0(reports: dict[str, Path]) -> None:
    a, b = str(reports["a"]), str(reports["b"])
    failing = loadscope("compare", a, b, "--threshold", "req_p99_change_pct < -1000")
    assert failing.code == 1
    assert failing.err.startswith("threshold failed: ")
    passing = loadscope("compare", a, b, "--threshold", "req_p99_change_pct > -1000")
    assert passing.code == 0


@pytest.mark.slow
def test_a_report_compared_with_itself_is_within_noise(reports: dict[str, Path]) -> None:
    result = loadscope("compare", str(reports["a"]), str(reports["a"]), "--format", "json")
    verdicts = {row["verdict"] for row in json.loads(result.out)["metrics"].values()}
    assert verdicts <= {"within noise", "n/a"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ('{"requests": 3}', "not a loadscope JSON report"),
        ("[1, 2]", "not a loadscope JSON report"),
    ],
)
def test_bad_reports_are_exit_2_with_a_reason(
    reports: dict[str, Path], tmp_path: Path, content: str | None, reason: str
) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    result = loadscope("compare", str(reports["a"]), str(bad))
    assert result.code == 2
    assert reason in result.error_line()


@pytest.mark.slow
def test_reports_of_different_requests_are_mismatched(reports: dict[str, Path]) -> None:
    result = loadscope("compare", str(reports["a"]), str(reports["other"]))
    assert result.code == 2
    assert "share no step" in result.error_line()


@pytest.mark.slow
def test_different_schema_versions_are_mismatched(reports: dict[str, Path], tmp_path: Path) -> None:
    report = json.loads(reports["a"].read_text())
    report["schema_version"] += 1
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(report))
    result = loadscope("compare", str(reports["a"]), str(newer))
    assert result.code == 2
    assert "schema versions differ" in result.error_line()


@pytest.mark.slow
def test_an_unknown_threshold_name_is_exit_2(reports: dict[str, Path]) -> None:
    result = loadscope("compare", str(reports["a"]), str(reports["b"]), "--threshold", "p99 < 1")
    assert result.code == 2
    assert "unknown name p99" in result.error_line()


SPREAD = (-1.0, 0.2, -0.6, 1.0, -0.2, 0.6)  # a run's seconds, scattered around its level


def _steady(p99: float, wobble: float, seconds: int = 13) -> dict[str, Any]:
    """A report whose per-second p99 scatters up to `wobble` around `p99`."""
    timeline = [
        {"t": t, "p99_ms": p99 + wobble * SPREAD[t % len(SPREAD)]} for t in range(1, seconds + 1)
    ]
    return {"latency_ms": {"p99": p99}, "timeline": timeline}


def test_noise_follows_the_per_second_spread() -> None:
    p99 = next(m for m in MEASURES if m.name == "req_p99")
    base = _steady(10.0, 0.1)
    assert compare_measure(p99, base, _steady(10.3, 0.1))["verdict"] == "within noise"  # < 5%
    assert compare_measure(p99, base, _steady(12.0, 0.1))["verdict"] == "worse"
    assert compare_measure(p99, base, _steady(8.0, 0.1))["verdict"] == "better"
    # the same 20% rise, in runs whose p99 scatters by ±10 ms from second to second, is noise
    assert compare_measure(p99, _steady(10.0, 10.0), _steady(12.0, 10.0))["verdict"] == (
        "within noise"
    )


def test_missing_numbers_are_not_judged() -> None:
    time_wait = next(m for m in MEASURES if m.name == "time_wait_peak")
    report = _steady(10.0, 0.1)
    row = compare_measure(time_wait, report, copy.deepcopy(report))
    assert row["verdict"] == "n/a" and row["change"] is None


def test_one_spiky_second_does_not_hide_a_change() -> None:
    p99 = next(m for m in MEASURES if m.name == "req_p99")
    new = _steady(25.0, 2.0)
    new["timeline"][0]["p99_ms"] = 140.0  # the first second's handshakes
    assert compare_measure(p99, _steady(10.0, 1.0), new)["verdict"] == "worse"


def _report(**numbers: Any) -> dict[str, Any]:
    """The least a report needs to be compared: one step, its requests, and `numbers`."""
    return {
        "schema_version": 1,
        "requests_total": 100,
        "errors_total": 0,
        "latency_ms": {"p99": 1.0},
        "steps": {"book:home": {"requests": 100, "errors": 0}},
        **numbers,
    }


def test_failed_iterations_are_compared_under_run_thresholds_names(tmp_path: Path) -> None:
    """A test: failure fails the iteration, not the request: compare sees it as run does."""
    base, new = tmp_path / "base.json", tmp_path / "new.json"
    base.write_text(json.dumps(_report(iterations_total=100, iterations_failed=0)))
    new.write_text(json.dumps(_report(iterations_total=100, iterations_failed=100)))
    result = loadscope_in_process("compare", str(base), str(new), "--threshold",
                                  "error_rate_new < 1")  # fmt: skip
    assert result.code == 1, result.err
    row = next(line for line in result.out.splitlines() if line.startswith("iterations failed"))
    assert row.split()[-3:] == ["100%", "+100", "worse"], row
    assert "request errors" in result.out
    assert "threshold failed: (error_rate_new < 1) is not true: error_rate_new=100" in result.err


def test_compares_old_p50_is_refused_with_where_it_went(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(json.dumps(_report()))
    result = loadscope_in_process("compare", str(base), str(base), "--threshold", "p50_new < 1")
    assert result.code == 2
    assert "req_p50 (requests) or med (whole iterations)" in result.error_line()
