"""What a report says must be true (issue 13): unexpected statuses are errors in URL mode, an
interrupted run reports the time it ran, the model and peak VUs are what the run did, one rule
for the run's length, and every threshold's result is in the report with what its names mean."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .cli_support import loadscope, start, wait_for
from .helpers import signal_pending
from .reports import validated


@pytest.mark.slow
def test_a_500_fails_its_iteration_in_url_mode(target: TargetProcess) -> None:
    result = loadscope(
        "run", target.http_url + "/status/500", "-c", "2", "-d", "1s", "--format", "json"
    )
    assert result.code == 0, result.err
    report = result.json()
    assert report["requests_total"] > 0
    assert report["error_kinds"] == {"http_status": report["requests_total"]}
    assert report["errors_total"] == report["requests_total"] == report["iterations_failed"]
    assert report["iterations_succeeded"] == 0
    assert report["status_codes"] == {"500": report["requests_total"]}
    # every second that was answered shows its responses, whatever their status
    answered = [p for p in report["timeline"] if p["errors"]]
    assert answered and all(p["rps"] > 0 for p in answered)


@pytest.mark.slow
def test_a_500_fails_an_error_rate_threshold(target: TargetProcess) -> None:
    result = loadscope(
        "run",
        target.http_url + "/status/500",
        "-c",
        "1",
        "-d",
        "1s",
        "--threshold",
        "error_rate < 1",
    )
    assert result.code == 1
    errors_row = next(line for line in result.out.splitlines() if line.startswith("  errors "))
    assert "http_status ×" in errors_row
    assert "Error rate.....................: 100%" in result.out
    assert "threshold failed: (error_rate < 1) is not true: error_rate=100" in result.err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("expected", "path", "fails"),
    [
        ("200,201,404", "/status/404", False),
        ("200-299", "/status/302", True),
        ("200-399", "/status/302", False),  # the default
        ("500", "/status/500", False),
    ],
)
def test_expect_status_takes_ranges_and_lists(
    target: TargetProcess, expected: str, path: str, fails: bool
) -> None:
    args = ["--expect-status", expected] if expected != "200-399" else []
    result = loadscope(
        "run", target.http_url + path, "-c", "1", "-d", "0.5s", "--format", "json", *args
    )
    report = result.json()
    assert report["requests_total"] > 0
    assert (report["iterations_failed"] == report["iterations_total"]) is fails
    assert ("http_status" in report["error_kinds"]) is fails


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["http://127.0.0.1:9/", "--expect-status", "2xx"], "--expect-status: '2xx' is not"),
        (["http://127.0.0.1:9/", "--expect-status", "399-200"], "within 100-599, low to high"),
        (["examples/demo.yml", "--expect-status", "200"], "--expect-status is for the URL form"),
        (["http://127.0.0.1:9/", "--stages", ""], "--stages: give at least one"),
        (["http://127.0.0.1:9/", "--phases", ""], "--phases: give at least one"),
        (["http://127.0.0.1:9/", "--stages", "2s:5", "-d", "5s"], "--stages both set the length"),
        (["http://127.0.0.1:9/", "--phases", "shared:1s", "-d", "5s"], "--phases both set"),
        (["http://127.0.0.1:9/", "-d", "-1s"], "-d/--duration: not a duration: '-1s'"),
        (["http://127.0.0.1:9/", "--duration=-1s"], "-d/--duration: not a duration: '-1s'"),
    ],
)
def test_bad_length_and_status_flags_are_exit_2(args: list[str], fragment: str) -> None:
    result = loadscope("run", *args)
    assert result.code == 2
    assert result.out == ""
    assert fragment in result.error_line()


def csv_rows(path: Path) -> int:
    """Complete data rows in a CSV file being written (the header is not one)."""
    text = path.read_text() if path.exists() else ""
    return max(0, text.count("\n") - 1)


@pytest.mark.slow
def test_an_interrupted_run_reports_the_time_it_ran(target: TargetProcess, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    timeline = tmp_path / "timeline.csv"
    process = start(
        "run", target.http_url + "/json", "-c", "2", "-d", "30s", "--out", str(out),
        "--csv", str(timeline),
    )  # fmt: skip
    started = time.monotonic()
    # Its first timeline row: the run has measured for a second by its own clock.
    wait_for(lambda: csv_rows(timeline) >= 1 or process.poll() is not None, what="a second")
    process.interrupt()
    result = process.finish(timeout=30)
    ran_for = time.monotonic() - started
    assert result.code == 130
    report = validated(json.loads(out.read_text()))
    assert report["duration_s"] < min(10.0, ran_for)
    assert report["planned_duration_s"] == 30.0 and report["stopped_early"] is True
    duration_line = result.out.splitlines()[2]
    shown = f"{report['duration_s']:.1f}".rstrip("0").rstrip(".")
    assert duration_line == f"Duration (--duration)..........: {shown}s (interrupted; planned 30s)"
    assert f" in {report['duration_s']:.1f}s = " in result.out


@pytest.mark.slow
def test_the_open_model_reports_its_cap_and_peak_not_the_unused_c(target: TargetProcess) -> None:
    result = loadscope(
        "run", target.http_url + "/json", "--rate", "50", "--max-vus", "7", "-d", "1s",
        "--format", "json",
    )  # fmt: skip
    report = result.json()
    assert report["model"] == "constant-arrival-rate"
    assert report["concurrency"] == 7  # the VU cap, never -c's default of 10
    assert 1 <= report["peak_vus"] <= 7


@pytest.mark.slow
def test_a_ramp_reports_its_stages_and_peak(target: TargetProcess) -> None:
    result = loadscope("run", target.http_url + "/json", "--stages", "1s:6,1s:0")
    report_line = next(line for line in result.out.splitlines() if line.startswith("  mode "))
    assert "closed, stages 1s:6,1s:0 VUs, peak 6 VUs" in report_line
    concurrent = result.out.splitlines()[3]
    assert concurrent == "Concurrent (--load-concurrent).: 6"
    as_json = loadscope(
        "run", target.http_url + "/json", "--stages", "1s:6,1s:0", "--format", "json"
    )
    report = as_json.json()
    assert report["model"] == "ramping-vus" and report["peak_vus"] == 6
    assert report["stages"] == [
        {"duration_s": 1.0, "target": 6.0},
        {"duration_s": 1.0, "target": 0.0},
    ]


@pytest.mark.slow
def test_thresholds_are_reported_with_what_their_names_measure(target: TargetProcess) -> None:
    result = loadscope(
        "run", target.http_url + "/json", "-c", "1", "-d", "0.5s", "--format", "json",
        "--threshold", "p99 < 100000", "--threshold", "req_p99 < 0",
    )  # fmt: skip
    assert result.code == 1
    report = result.json()
    passed, failed = report["thresholds"]
    assert passed["passed"] and not failed["passed"]
    assert passed["meanings"] == {"p99": "iteration latency p99, ms"}
    assert failed["meanings"] == {"req_p99": "request latency p99, ms"}
    assert failed["values"]["req_p99"] == report["latency_ms"]["p99"]  # rounded as the report
    text = loadscope("run", target.http_url + "/json", "-c", "1", "-d", "0.5s", "-q")
    assert "request p50 " in text.out and "request p99 " in text.out


@pytest.mark.slow
def test_a_second_ctrl_c_is_named_as_what_cut_the_requests(
    target: TargetProcess, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    requests = target.requests()
    process = start(
        "run", target.http_url + "/delay/3000", "-c", "2", "-d", "60s", "--grace", "30s",
        "--out", str(out),
    )  # fmt: skip
    wait_for(lambda: target.requests() >= requests + 2 or process.poll() is not None)
    process.interrupt()
    wait_for(lambda: not signal_pending(process.pid, signal.SIGINT), what="the first SIGINT")
    process.interrupt()  # well within the 30 s grace: this cut them
    result = process.finish(timeout=30)
    assert result.code == 130
    report = validated(json.loads(out.read_text()))
    assert report["error_kinds"] == {"interrupted": 2}
    assert "cut by a second Ctrl-C" in report["error_messages"]["interrupted"]
    assert list(report["failures"]) == [
        "interrupted: cut by a second Ctrl-C before the grace period ended"
    ]
    assert "grace period ended" in result.out and "at the end of the grace" not in result.out
    # Nothing was timed: runn's latency line says n/a, not a made-up 0ms.
    latency_line = next(line for line in result.out.splitlines() if line.startswith("Latency ."))
    assert latency_line.endswith("max=n/a min=n/a avg=n/a med=n/a p(90)=n/a p(95)=n/a p(99)=n/a")


@pytest.mark.slow
def test_runn_latency_line_keeps_sub_millisecond_digits(
    target: TargetProcess, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    result = loadscope("run", target.http_url + "/json", "-c", "1", "-d", "0.5s", "--out", str(out))
    report = validated(json.loads(out.read_text()))
    latency_line = next(line for line in result.out.splitlines() if line.startswith("Latency ."))
    shown = dict(part.split("=") for part in latency_line.split(": ", 1)[1].split())
    minimum = report["iteration_latency_ms"]["min"]
    assert minimum < 1  # loopback: well under a millisecond
    assert shown["min"] != "0ms"
    assert abs(float(shown["min"].removesuffix("ms")) - minimum) < 0.001


def test_a_url_with_one_slash_gets_the_corrected_url_as_hint() -> None:
    result = loadscope("run", "http:/127.0.0.1:9/")
    assert result.code == 2
    assert result.error_line().endswith("no such runbook file (a URL? http://127.0.0.1:9/)")


@pytest.mark.slow
def test_help_texts_say_what_is_true() -> None:
    watch = loadscope("watch", "--help").out
    assert "netlink" in watch and "from /proc," not in watch
    target = loadscope("target", "--help").out
    assert "threshold" not in target and "Exit codes: 0 stopped, 2 bad input" in target
    demo = loadscope("demo", "--help").out
    assert "(default 10; churn: 20)" in demo and "(default basic)" in demo


def test_numbers_in_warnings_and_watch_lines_have_one_format() -> None:
    from loadscope.engine.diagnostics._detectors import _rate
    from loadscope.engine.diagnostics.kernel import SocketCounts, WatchSample
    from loadscope.tui.cli._watch import _line

    assert _rate(2593.0) == "2,593" and _rate(4.25) == "4.2"

    def row(rate: float) -> list[str]:
        sample = WatchSample(3.0, SocketCounts(), 1, rate, 1, 0, 0, (32768, 60999), "netlink")
        return _line(sample).split()

    assert row(7724.0)[1] == "7,724" and row(8460.3)[1] == "8,460"
