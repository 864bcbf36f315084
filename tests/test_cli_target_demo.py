"""`loadscope target` in the foreground, and `loadscope demo --headless`."""

from __future__ import annotations

import json
import re
import signal
import socket
from pathlib import Path

import pytest

from loadscope.engine.target import TargetOptions, TargetProcess
from loadscope.tui.cli._demo import demo_command, target_options
from loadscope.tui.cli._plan import DemoPlan, parse_plan

from .cli_support import REPO, loadscope, start
from .reports import validated


@pytest.mark.slow
def test_target_in_the_foreground_serves_a_load_and_stops_on_sigint() -> None:
    process = start("target", "--port", "0")
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("loadscope target: 1 worker"), banner
        match = re.match(
            r"\s+(http://127\.0\.0\.1:\d+)\s+HTTP/1\.1 \+ h2c", process.stdout.readline()
        )
        assert match, "the URL line"
        url = match.group(1)
        report = loadscope("run", url + "/json", "-c", "2", "-d", "300ms", "--format", "json")
        assert report.code == 0 and report.json()["status_codes"].keys() == {"200"}
        process.interrupt(signal.SIGINT)
        result = process.finish(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert result.code == 0 and result.err == ""
    with socket.socket() as client:  # nothing listens there any more
        assert client.connect_ex(("127.0.0.1", int(url.rsplit(":", 1)[1]))) != 0


@pytest.mark.slow
def test_target_with_tls_and_h2c_only() -> None:
    process = start("target", "--port", "0", "--tls", "--tls-port", "0", "--h2c")
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        plain = re.search(r"(http://\S+)\s+h2c \(prior knowledge\) only", lines[1])
        tls = re.search(r"(https://\S+)\s+TLS, ALPN h2 \+ http/1\.1; cacert (\S+)", lines[2])
        assert plain and tls, lines
        h2c = loadscope(
            "run", plain.group(1), "--h2c", "-c", "2", "-d", "300ms", "--format", "json"
        )
        assert h2c.code == 0 and set(h2c.json()["http_versions"]) == {"HTTP/2"}
        h1 = loadscope("run", plain.group(1), "--http1", "-d", "300ms", "--format", "json")
        refused = h1.json()  # an HTTP/1.1 client is turned away: every request fails
        assert refused["errors_total"] == refused["requests_total"] > 0
        assert h1.code == 2 and "nothing was answered" in h1.err  # no answer at all: exit 2
        secure = loadscope("run", tls.group(1), "-k", "-c", "2", "-d", "300ms", "--format", "json")
        assert secure.code == 0 and set(secure.json()["http_versions"]) == {"HTTP/2"}
        process.interrupt(signal.SIGTERM)
        result = process.finish(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert result.code == 0


@pytest.mark.slow
def test_target_port_in_use_is_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = loadscope("target", "--port", str(port), timeout=30)
    assert result.code == 2 and result.out == ""
    assert result.error_line() == (
        f"loadscope: target: cannot listen on 127.0.0.1:{port}: address already in use"
    )


@pytest.mark.slow
def test_demo_headless_runs_the_demo_runbook(tmp_path: Path) -> None:
    summary = tmp_path / "demo.json"
    result = loadscope("demo", "--headless", "-d", "2", "--summary-json", str(summary))
    assert result.code == 0, result.err
    assert re.fullmatch(r"built-in target on http://127\.0\.0\.1:\d+\n", result.err)
    assert result.out.startswith("Number of runbooks per RunN....: 1\n")
    assert "Duration (--duration)..........: 2s\n" in result.out
    report = validated(json.loads(summary.read_text()))
    assert set(report["steps"]) == {"demo:home", "demo:sign_up", "demo:profile", "demo:catalog"}
    assert report["iterations_total"] == report["iterations_succeeded"] > 0
    assert report["errors_total"] == 0 and report["concurrency"] == 10
    assert 2.0 <= report["duration_s"] < 4.0


# -- the churn story over HTTP/3 ------------------------------------------------------------------
def test_demo_http3_serves_quic_and_runs_the_runbook_with_http3() -> None:
    for story in ("churn", "basic"):
        plan = parse_plan(["demo", story, "--http3", "--headless"])
        assert isinstance(plan, DemoPlan) and plan.http3
        options = target_options(plan)
        assert options.tls and options.http3_port == 0
        argv = demo_command(plan, Path("book.yml"), story)
        assert "--http3" in argv and "--insecure" in argv
    plain = parse_plan(["demo", "churn"])
    assert isinstance(plain, DemoPlan)
    assert "--http3" not in demo_command(plain, Path("book.yml"), "churn")
    assert target_options(plain).http3_port is None


@pytest.mark.slow
def test_demo_churn_http3_headless_counts_quic_connections_and_no_time_wait(
    tmp_path: Path,
) -> None:
    pytest.importorskip("aioquic", reason="HTTP/3 needs the http3 extra (aioquic)")
    summary = tmp_path / "churn.json"
    result = loadscope(
        "demo", "churn", "--http3", "--headless", "-d", "2", "--summary-json", str(summary)
    )
    assert result.code == 0, result.err
    assert re.match(
        r"built-in target on https://127\.0\.0\.1:(\d+) \(HTTP/3 on its UDP port\)\n", result.err
    )
    report = validated(json.loads(summary.read_text()))
    assert report["errors_total"] == 0
    assert report["http_versions"] == {"HTTP/3": report["requests_total"]} != {"HTTP/3": 0}
    assert report["connections_opened"] + report["connections_carried_over"] >= 1
    assert report["time_wait_peak"] == 0
    kernel = dict(report["kernel"]["targets"])
    udp = [counts for name, counts in kernel.items() if name.startswith("udp:")]
    assert udp and udp[0]["time_wait"] == 0
    assert all(second["time_wait"] == 0 for second in report["timeline"])


@pytest.mark.slow
@pytest.mark.parametrize("version", ["--http3", "--http1"])
def test_the_churn_runbook_per_iteration_over_http3_leaves_no_time_wait(
    tmp_path: Path, version: str
) -> None:
    """The demo's runbook with short phases: per-iteration over HTTP/3 opens a QUIC connection
    per pass, each one counted by the target, and puts no socket in TIME_WAIT; over HTTP/1.1
    the same phase fills TIME_WAIT."""
    pytest.importorskip("aioquic", reason="HTTP/3 needs the http3 extra (aioquic)")
    summary = tmp_path / "churn.json"
    with TargetProcess(TargetOptions(tls=True, http3_port=0)) as target:
        assert target.https_url is not None
        result = loadscope(
            "run", str(REPO / "examples" / "churn.yml"), version, "--insecure", "-c", "2",
            "--phases", "shared:500ms,per-iteration:1500ms", "--warm-up", "0",
            "--summary-json", str(summary), "--quiet",
            env={"TARGET": target.https_url},
        )  # fmt: skip
        assert result.code == 0, result.err
        report = validated(json.loads(summary.read_text()))
        opened = report["connections_opened"]
        listener = "http3" if version == "--http3" else "https"
        # The target counts a connection when it arrives, the client once its handshake is
        # done: a pass cut at the end by the phase may leave one per VU counted only there.
        assert opened <= target.accepted(listener) == target.accepted() <= opened + 2
    shared, per_iteration = report["phases"]
    assert report["errors_total"] == 0, report["error_messages"]
    assert per_iteration["opened"] >= 3 and shared["opened"] <= 2
    if version == "--http3":
        assert report["http_versions"] == {"HTTP/3": report["requests_total"]}
        # The rise, not the peak: another process's old TIME_WAIT to a reused port number
        # would count in the peak.
        assert shared["time_wait_rise"] == per_iteration["time_wait_rise"] == 0
    else:
        assert per_iteration["time_wait_rise"] > 0
