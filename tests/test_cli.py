"""`loadscope run`, option by option: the real command in a subprocess against the built-in
target, checking exit codes, stdout, stderr and what the target saw."""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import select
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from loadscope.engine.target import TargetProcess
from loadscope.tui.outputs.files import CSV_FIELDS

from .cli_support import COMMAND, REPO, environment, loadscope
from .helpers import accepted_after_a_probe
from .reports import validated

# The runn loadt block, as issue 4 gives it: labels and separators must match line by line.
RUNN_BLOCK = """\
Number of runbooks per RunN....: 1
Warm up time (--warm-up).......: 5sec
Duration (--duration)..........: 10sec
Concurrent (--load-concurrent).: 1
Max RunN per second (--max-rps): 1

Total..........................: 10
Succeeded......................: 10
Failed.........................: 0
Error rate.....................: 0%
RunN per second................: 1
Latency .......................: max=3.5ms min=1.2ms avg=2.0ms med=1.9ms \
p(90)=3.0ms p(95)=3.2ms p(99)=3.5ms
"""

# The stable keys of issues 2-4 (docs/reports.md), present in every `run` report.
REPORT_KEYS = {
    "requests_total",
    "requests_per_second",
    "errors_total",
    "error_kinds",
    "status_codes",
    "latency_ms",
    "iterations_total",
    "iterations_succeeded",
    "iterations_failed",
    "dropped_iterations",
    "iteration_latency_ms",
    "failures",
    "steps",
    "concurrency",
    "duration_s",
    "http_versions",
    "reuse_mode",
    "connections_opened",
    "connections_closed",
    "connections_peak_open",
    "connections_closed_by_reason",
    "requests_on_new_connections",
    "requests_on_reused_connections",
    "latency_new_connection_ms",
    "latency_reused_connection_ms",
    "handshake_time_share",
    "connect_ms",
    "tls_ms",
    "connection_ledger",
    "warnings",
    "timeline",
    "thresholds",
    "interrupted",
}
LATENCY_KEYS = ["min", "mean", "p50", "p90", "p95", "p99", "p999", "max"]
ITERATION_LATENCY_KEYS = ["min", "mean", "p50", "p90", "p95", "p99", "max"]
TIMELINE_KEYS = {"t", "rps", "errors", "concurrency", "p50_ms", "p90_ms", "p99_ms", "open"}
TIMELINE_KEYS |= {"active", "idle", "opened", "closed", "iterations", "dropped"}
BLOCKS = ["Requests", "Latency (requests)", "Iterations", "Connections", "Steps"]


def run_json(*args: str, code: int = 0, **kwargs: object) -> dict:
    result = loadscope("run", *args, "--format", "json", **kwargs)  # type: ignore[arg-type]
    assert result.code == code, result.err
    return result.json()


def accepted_during(target: TargetProcess, *args: str) -> tuple[dict, int]:
    """The JSON report of `run ARGS`, and the connections the target accepted meanwhile."""
    before = target.accepted()
    report = run_json(*args)
    target.wait_until(lambda t: t.open_connections() == 0)
    return report, target.accepted() - before


def label(line: str) -> str:
    """A runn line up to and including its `: ` separator (the value varies)."""
    return line.split(": ", 1)[0] + ": " if ": " in line else line


# -- reports --------------------------------------------------------------------------------
@pytest.mark.slow
def test_json_report_is_alone_on_stdout_with_every_key(target: TargetProcess) -> None:
    result = loadscope(
        "run", target.http_url + "/json", "-c", "2", "-d", "500ms", "--format", "json"
    )
    assert result.code == 0 and result.err == ""
    report = result.json()  # stdout is exactly one JSON document
    assert set(report) >= REPORT_KEYS, REPORT_KEYS - set(report)
    assert list(report["latency_ms"]) == LATENCY_KEYS
    assert list(report["iteration_latency_ms"]) == ITERATION_LATENCY_KEYS
    assert report["requests_total"] > 0 and report["errors_total"] == 0
    assert report["status_codes"] == {"200": report["requests_total"]}
    assert report["iterations_total"] == report["iterations_succeeded"] == report["requests_total"]
    step = report["steps"]["GET /json"]
    assert set(step) == {"requests", "errors", "latency_ms", "status_codes"}
    assert list(step["latency_ms"]) == ["p50", "p90", "p99", "max"]
    assert report["concurrency"] == 2 and report["mode"] == "closed"
    assert report["connections_opened"] == 2 and report["reuse_mode"] == "shared"
    assert report["interrupted"] is False and report["thresholds"] == []
    assert 0.5 <= report["duration_s"] < 3.0
    assert report["timeline"] and set(report["timeline"][0]) >= TIMELINE_KEYS


@pytest.mark.slow
def test_text_report_runn_block_first_then_loadscope_blocks(target: TargetProcess) -> None:
    result = loadscope("run", target.http_url + "/json", "-c", "2", "-d", "500ms")
    assert result.code == 0
    assert result.err == ""  # stderr is not a terminal: no progress line
    lines = result.out.splitlines()
    expected = RUNN_BLOCK.splitlines()
    assert [label(line) for line in lines[: len(expected)]] == [label(e) for e in expected]
    assert lines[1] == "Warm up time (--warm-up).......: 0s"  # as runn prints durations
    assert lines[2] == "Duration (--duration)..........: 500ms"
    assert lines[3] == "Concurrent (--load-concurrent).: 2"
    assert re.fullmatch(
        r"Latency \.+: max=[\d.,]+ms min=[\d.,]+ms avg=[\d.,]+ms med=[\d.,]+ms "
        r"p\(90\)=[\d.,]+ms p\(95\)=[\d.,]+ms p\(99\)=[\d.,]+ms",
        lines[len(expected) - 1],
    )
    positions = [lines.index(block) for block in BLOCKS]
    assert positions == sorted(positions) and positions[0] == len(expected) + 1
    requests = lines[positions[0] + 1 : positions[1]]
    assert any(line.strip().startswith("status codes") and "200 ×" in line for line in requests)
    histogram = [line for line in lines if "█" in line]
    assert histogram, "the latency block draws a histogram"
    connections = "\n".join(lines[positions[3] : positions[4]])
    for row in ("opened", "closed by reason", "requests/connection", "on new connections"):
        assert f"  {row}" in connections
    assert "peak open 2" in connections
    assert re.search(r"^\s+GET /json\s+[\d,]+\s+0\s", result.out, re.M)


@pytest.mark.slow
def test_quiet_prints_one_summary_line(target: TargetProcess) -> None:
    result = loadscope("run", target.http_url, "-c", "2", "-d", "300ms", "--quiet")
    assert result.code == 0 and result.err == ""
    [line] = result.out.splitlines()
    assert re.fullmatch(
        r"[\d,]+ requests in [\d,.]+m?s, [\d,.]+ req/s, 0 errors, 0 of [\d,]+ iterations? failed, "
        r"request p50 \S+, request p99 \S+, "
        r"2 connections opened",
        line,
    )
    quiet_json = loadscope("run", target.http_url, "-d", "300ms", "-q", "--format", "json")
    assert quiet_json.code == 0 and quiet_json.json()["requests_total"] > 0


@pytest.mark.slow
def test_out_and_csv_files(target: TargetProcess, tmp_path: Path) -> None:
    out, timeline = tmp_path / "report.json", tmp_path / "timeline.csv"
    result = loadscope(
        "run", target.http_url, "-c", "2", "-d", "2s", "--out", str(out), "--csv", str(timeline)
    )
    assert result.code == 0 and result.out.startswith("Number of runbooks")
    report = validated(json.loads(out.read_text()))
    assert report["requests_total"] > 0 and report["interrupted"] is False
    with timeline.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_FIELDS
        rows = list(reader)
    assert [int(row["t"]) for row in rows] == [1, 2]  # one row per second
    assert [int(row["t"]) for row in rows] == [p["t"] for p in report["timeline"]]
    assert sum(int(row["iterations"]) for row in rows) == report["iterations_total"]
    assert int(rows[0]["opened"]) == 2 and all(int(row["errors"]) == 0 for row in rows)


@pytest.mark.slow
def test_url_flag_is_the_same_as_a_positional_url(target: TargetProcess) -> None:
    report = run_json("--url", target.http_url + "/json", "-c", "1", "-d", "300ms")
    assert list(report["steps"]) == ["GET /json"] and report["errors_total"] == 0


# -- the request ------------------------------------------------------------------------------
@pytest.mark.slow
def test_method_and_body(target: TargetProcess, tmp_path: Path) -> None:
    marker = f"cli-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"name": marker})
    report = run_json(target.http_url + "/users", "-X", "post", "--body", body, "-d", "300ms")
    created = report["status_codes"]["201"]
    assert created == report["requests_total"] > 0 and list(report["steps"]) == ["POST /users"]
    users = httpx.get(target.http_url + "/users").json()["users"]
    assert sum(user.get("name") == marker for user in users) == created
    # --body @FILE reads the file; the echo endpoint takes any method.
    (tmp_path / "body.json").write_text(body)
    echo = run_json(
        target.http_url + "/echo", "-X", "PUT", "--body", f"@{tmp_path / 'body.json'}", "-d", "0.3"
    )
    assert list(echo["steps"]) == ["PUT /echo"] and set(echo["status_codes"]) == {"200"}
    refused = run_json(target.http_url + "/users", "--method", "DELETE", "-d", "200ms")
    assert set(refused["status_codes"]) == {"405"}  # the target saw a DELETE


@pytest.mark.slow
def test_header(target: TargetProcess) -> None:
    login = httpx.get(target.http_url + "/login", params={"user": "cli-header"})
    cookie = f"session={login.cookies['session']}"
    signed_in = run_json(target.http_url + "/me", "--header", f"Cookie: {cookie}", "-d", "300ms")
    assert set(signed_in["status_codes"]) == {"200"}
    anonymous = run_json(target.http_url + "/me", "-H", "X-Other: 1", "-d", "300ms")
    assert set(anonymous["status_codes"]) == {"401"}


@pytest.mark.slow
def test_var(target: TargetProcess, tmp_path: Path) -> None:
    book = tmp_path / "var.yml"
    book.write_text(
        "runners:\n  req: ${TARGET}\nvars:\n  user: nobody\nsteps:\n  login:\n    req:\n"
        "      /login?user={{ vars.user }}:\n        get: {}\n"
        "    test: current.res.body.user == 'cli-var'\n"
    )
    env = {"TARGET": target.http_url}
    given = run_json(str(book), "--var", "user:cli-var", "-c", "1", "-d", "300ms", env=env)
    assert given["iterations_total"] == given["iterations_succeeded"] > 0
    default = run_json(str(book), "-c", "1", "-d", "300ms", env=env)
    assert default["iterations_succeeded"] == 0 and default["iterations_failed"] > 0


@pytest.mark.slow
def test_timeout(target: TargetProcess) -> None:
    report = run_json(  # nothing was answered: the report still comes, and exit 2
        target.http_url + "/delay/1000", "--timeout", "100ms", "-c", "2", "-d", "1s", code=2
    )
    assert set(report["error_kinds"]) == {"timeout"} and report["error_kinds"]["timeout"] >= 2
    assert report["status_codes"] == {} and report["iterations_succeeded"] == 0


@pytest.mark.slow
def test_insecure_or_a_verification_failure(target: TargetProcess) -> None:
    assert target.https_url is not None
    refused = loadscope("run", target.https_url, "-c", "2", "-d", "5s")
    assert refused.code == 2 and refused.out == ""
    line = refused.error_line()
    assert line.startswith("loadscope: target unreachable: ")
    assert "certificate verification failed" in line and "--insecure" in line
    report = run_json(target.https_url, "--insecure", "-c", "2", "-d", "300ms")
    assert report["errors_total"] == 0 and set(report["http_versions"]) == {"HTTP/2"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "version", "connections"),
    [
        (["--http1"], "HTTP/1.1", 4),
        (["--http2"], "HTTP/2", 1),
        (["--h2c"], "HTTP/2", 1),
        (["--h2c", "--h2-connections", "3"], "HTTP/2", 3),
    ],
)
def test_http_versions(
    target: TargetProcess, flags: list[str], version: str, connections: int
) -> None:
    report, accepted = accepted_during(target, target.http_url, "-c", "4", "-d", "300ms", *flags)
    assert set(report["http_versions"]) == {version} and report["errors_total"] == 0
    assert report["connections_opened"] == accepted == connections


@pytest.mark.slow
def test_http2_over_tls_with_several_connections(target: TargetProcess) -> None:
    assert target.https_url is not None
    report, accepted = accepted_during(
        target, target.https_url, "-k", "--http2", "--h2-connections", "2", "-c", "4", "-d", "300ms"
    )
    assert set(report["http_versions"]) == {"HTTP/2"}
    assert report["connections_opened"] == accepted == 2


# -- connections ------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["shared", "per-vu", "per-iteration", "none"])
def test_reuse_modes_against_the_accept_counter(target: TargetProcess, mode: str) -> None:
    report, accepted = accepted_during(
        target, target.http_url + "/delay/5", "-c", "2", "-d", "400ms", "--reuse", mode
    )
    assert report["reuse_mode"] == mode and report["errors_total"] == 0
    assert report["connections_opened"] == accepted
    if mode in ("shared", "per-vu"):
        assert accepted == 2
    elif mode == "per-iteration":
        assert accepted == report["iterations_total"] > 2
        assert set(report["connections_closed_by_reason"]) == {"iteration_end"}
    else:
        assert accepted == report["requests_total"] > 2
        assert set(report["connections_closed_by_reason"]) == {"no_reuse"}


@pytest.mark.slow
def test_max_idle_closes_the_surplus(target: TargetProcess) -> None:
    report, accepted = accepted_during(
        target, target.http_url, "-c", "4", "-d", "300ms", "--max-idle", "1"
    )
    reasons = report["connections_closed_by_reason"]
    assert reasons.get("pool_shrink", 0) >= 3 and report["connections_opened"] == accepted


@pytest.mark.slow
def test_warm_up_is_left_out(target: TargetProcess, tmp_path: Path) -> None:
    timeline = tmp_path / "t.csv"
    report, accepted = accepted_during(
        target, target.http_url, "-c", "3", "--warm-up", "500ms", "-d", "1s", "--csv", str(timeline)
    )
    assert accepted == 3  # opened during the warm-up...
    assert report["connections_opened"] == 0  # ...so not in the report
    assert report["requests_on_new_connections"] == 0 and report["requests_total"] > 0
    # ...but they served the measured requests
    assert report["connections_carried_over"] == 3
    assert report["requests_per_connection"] == round(report["requests_total"] / 3, 2)
    assert 1.0 <= report["duration_s"] < 1.5  # the measured second, not the warm-up
    assert [p["t"] for p in report["timeline"]] == [1]
    rows = list(csv.DictReader(timeline.open(newline="")))
    assert [int(row["t"]) for row in rows] == [1]  # no warm-up rows either
    assert int(rows[0]["iterations"]) == report["iterations_total"]


@pytest.mark.slow
def test_stages_ramp_and_set_the_duration(target: TargetProcess) -> None:
    report = run_json(target.http_url + "/delay/10", "--stages", "0.2s:4,0.9s:4,0.2s:8,0.4s:8")
    assert [p["concurrency"] for p in report["timeline"]] == [4, 8]
    assert report["connections_peak_open"] == 8 and report["concurrency"] == 8
    assert 1.5 <= report["duration_s"] < 4.0  # the stages' total, not the 10s default


@pytest.mark.slow
def test_stages_ramp_the_rate_in_the_open_model(target: TargetProcess) -> None:
    stages = "0.3s:20,0.8s:20,0.2s:60,0.4s:60"
    report = run_json(target.http_url, "--rate", "20", "--stages", stages)
    rates = [point["rate"] for point in report["timeline"]]
    assert rates == pytest.approx([20, 60], abs=2)  # a busy loop may update the level late
    assert report["mode"] == "open" and 25 <= report["iterations_total"] <= 90


@pytest.mark.slow
def test_rate_and_max_vus(target: TargetProcess) -> None:
    slow = target.http_url + "/delay/200"  # 3 VUs serve 15 iterations/s at most
    report = run_json(slow, "--rate", "40", "--max-vus", "3", "-d", "1s")
    assert report["mode"] == "open" and report["rate"] == 40 and report["max_vus"] == 3
    assert report["connections_peak_open"] <= 3 and report["dropped_iterations"] > 0
    assert report["iterations_total"] + report["dropped_iterations"] == 40


@pytest.mark.slow
def test_the_open_model_keeps_a_connection_per_vu_not_per_dash_c(target: TargetProcess) -> None:
    # 12 requests in flight at 300/s: the pool keeps what the VU cap allows, whatever -c says.
    report = run_json(target.http_url + "/delay/40", "--rate", "300", "--max-vus", "40",
                      "-c", "2", "-d", "1s")  # fmt: skip
    assert "pool_shrink" not in report["connections_closed_by_reason"]
    assert report["connections_opened"] <= 40 and report["errors_total"] == 0


# -- thresholds -------------------------------------------------------------------------------
@pytest.mark.slow
def test_threshold_pass(target: TargetProcess) -> None:
    result = loadscope(
        "run", target.http_url, "-c", "2", "-d", "300ms", "--format", "json",
        "--threshold", "error_rate < 1 && p99 < 10000",
        "--threshold", "connections_opened == 2 && req_errors == 0",
    )  # fmt: skip
    assert result.code == 0 and result.err == ""
    assert [t["passed"] for t in result.json()["thresholds"]] == [True, True]


@pytest.mark.slow
def test_threshold_fail_prints_the_report_then_why(target: TargetProcess) -> None:
    result = loadscope(
        "run", target.http_url + "/delay/2", "-c", "2", "-d", "300ms",
        "--threshold", "error_rate < 1 && p99 < 0.5",
    )  # fmt: skip
    assert result.code == 1
    assert result.out.startswith("Number of runbooks per RunN")  # the report comes first
    line = result.error_line()
    match = re.fullmatch(r"threshold failed: \(p99 < 0\.5\) is not true: p99=([\d.]+)", line)
    assert match and float(match.group(1)) >= 2


@pytest.mark.slow
def test_invalid_threshold_exits_2_before_any_load(target: TargetProcess) -> None:
    before = target.accepted()
    for expression in ("p99 <", "nonsense_name < 1", "p99 < 'a' +"):
        result = loadscope("run", target.http_url, "-d", "1s", "--threshold", expression)
        assert result.code == 2 and result.out == ""
        assert "threshold" in result.error_line()
    assert accepted_after_a_probe(target) == before


# -- ends of runs -----------------------------------------------------------------------------
@pytest.mark.slow
def test_grace_lets_running_iterations_finish_or_cuts_them(target: TargetProcess) -> None:
    slow = target.http_url + "/delay/800"
    cut = run_json(slow, "-c", "2", "-d", "300ms", "--grace", "100ms", code=2)  # none answered
    # Cut requests were sent and never answered: errors, and their iterations failed.
    assert cut["requests_total"] == cut["errors_total"] == 2
    assert cut["error_kinds"] == {"interrupted": 2}
    assert cut["iterations_total"] == cut["iterations_failed"] == 2
    assert cut["failures"] == {"interrupted: cut at the end of the grace period": 2}
    assert cut["iteration_latency_ms"]["max"] is None  # a cut iteration has no latency
    gated = loadscope("run", slow, "-c", "2", "-d", "300ms", "--grace", "100ms",
                      "--threshold", "p99 < 200 && error_rate < 1", "--quiet")  # fmt: skip
    assert gated.code == 1 and "error_rate=100" in gated.err
    finished = run_json(slow, "-c", "2", "-d", "300ms", "--grace", "5s")
    assert finished["iterations_total"] == finished["iterations_succeeded"] == 2
    assert target.wait_until(lambda t: t.open_connections() == 0)


@pytest.mark.slow
@pytest.mark.parametrize(("retire_at", "partial"), [("iteration", False), ("request", True)])
def test_retire_at(target: TargetProcess, tmp_path: Path, retire_at: str, partial: bool) -> None:
    book = tmp_path / "two_steps.yml"
    book.write_text(
        "runners:\n  req: ${TARGET}\nsteps:\n"
        "  slow:\n    req:\n      /delay/200:\n        get: {}\n"
        "  fast:\n    req:\n      /:\n        get: {}\n"
    )
    report = run_json(
        str(book), "--stages", "0.2s:6,0.4s:6,0.1s:0,0.4s:0", "--retire-at", retire_at,
        env={"TARGET": target.http_url},
    )  # fmt: skip
    slow, fast = report["steps"]["two_steps:slow"], report["steps"]["two_steps:fast"]
    abandoned = slow["requests"] - fast["requests"]  # retired between the two steps
    assert report["iterations_total"] == fast["requests"] > 0
    assert (abandoned > 0) is partial


# -- progress -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_progress_on_a_terminal_only(target: TargetProcess) -> None:
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [*COMMAND, "run", target.http_url, "-c", "2", "-d", "1s", "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
            env=environment(),
            cwd=REPO,
        )
        os.close(terminal)
        terminal = -1
        progress = _read_all(controller, process)
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert process.returncode == 0
    assert re.search(r"\[[\d.]+s/1s\] [\d,]+ req/s +[\d,]+ requests +0 errors +2 VUs", progress)
    assert "Traceback" not in progress
    report = validated(json.loads(process.stdout.read() if process.stdout else ""))
    assert report["requests_total"] > 0


def _read_all(controller: int, process: subprocess.Popen[bytes]) -> str:
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                data = os.read(controller, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait(timeout=60)
    return b"".join(chunks).decode(errors="replace")


def test_help_lists_every_option_with_its_default() -> None:
    result = loadscope("run", "--help", env={"COLUMNS": "200"})  # no wrapping
    assert result.code == 0 and result.err == ""
    for option in (
        "-c N, --concurrency N", "-d DURATION, --duration DURATION", "--warm-up DURATION",
        "--stages", "--rate R", "--max-vus N", "--http1", "--http2", "--h2c", "--h2-connections",
        "--reuse", "--timeout DURATION", "-k, --insecure", "--var KEY:VALUE", "-H 'NAME: VALUE'",
        "-X METHOD, --method METHOD", "--body", "--threshold EXPR", "--format", "--out FILE",
        "--csv FILE", "-q, --quiet", "--retire-at", "--grace DURATION", "--max-idle N", "--url",
    ):  # fmt: skip
        assert option in result.out, option
    assert "(default 10s" in result.out and "examples:" in result.out
    assert result.out.rstrip().endswith(
        "Exit codes: 0 ok, 1 threshold failed, 2 bad input or target unreachable, 130 interrupted."
    )
