"""The real `loadscope console` in a pseudo-terminal against the built-in target: keys in,
summary JSON out."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from pathlib import Path

import pexpect
import pytest

from loadscope.engine.target import TargetProcess

from .cli_support import wait_for
from .reports import validated

LOADSCOPE = shutil.which("loadscope") or ""


def spawn(args: list[str], cwd: Path) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    command = [LOADSCOPE] if LOADSCOPE else [sys.executable, "-m", "loadscope.tui.cli"]
    child = pexpect.spawn(
        command[0],
        [*command[1:], *args],
        cwd=str(cwd),
        env=env,
        dimensions=(40, 120),
        encoding="utf-8",
        codec_errors="replace",
        timeout=30,
    )
    return child


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_console_keys_and_summary_json(target: TargetProcess, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    baseline = target.open_connections()
    child = spawn(
        ["console", target.http_url + "/json", "-c", "3", "--summary-json", str(summary)],
        tmp_path,
    )
    try:
        child.expect("RUNNING")
        child.expect("3 VUs")
        wait_for(lambda: target.open_connections() >= baseline + 3, what="3 connections")
        child.send("+")
        child.expect("4 VUs")
        child.send("]")
        child.expect("14 VUs")
        # Every VU at the new level has its connection before the run stops.
        wait_for(lambda: target.open_connections() >= baseline + 14, what="14 connections")
        child.send("q")
        child.expect("Run stopped")
        wait_for(summary.exists)
        child.send("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    report = validated(json.loads(summary.read_text()))
    assert report["concurrency"] == 14
    assert report["reuse_mode"] == "shared"
    assert report["connections_opened"] == report["connections_peak_open"] == 14
    assert report["errors_total"] == 0 and report["requests_total"] > 0


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_console_with_duration_stops_by_itself(target: TargetProcess, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    child = spawn(
        ["console", target.http_url, "-c", "2", "-d", "2s", "--summary-json", str(summary)],
        tmp_path,
    )
    try:
        child.expect("Run stopped", timeout=30)
        wait_for(summary.exists)
        child.send("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    report = validated(json.loads(summary.read_text()))
    assert 1.9 <= report["duration_s"] <= 4
    assert report["concurrency"] == 2


@pytest.mark.slow
def test_console_refuses_a_bad_runbook_before_opening(tmp_path: Path) -> None:
    book = tmp_path / "bad.yml"
    book.write_text("steps: [\n")
    child = spawn(["console", str(book)], tmp_path)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "bad.yml:" in child.before
    assert "Traceback" not in child.before


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_console_writes_csv_and_checks_thresholds(target: TargetProcess, tmp_path: Path) -> None:
    out, csv = tmp_path / "out.json", tmp_path / "timeline.csv"
    child = spawn(
        ["console", target.http_url, "-c", "2", "-d", "2s", "--out", str(out), "--csv", str(csv),
         "--threshold", "req_p99 < 0.000001"],
        tmp_path,
    )  # fmt: skip
    try:
        child.expect("Run stopped", timeout=30)
        wait_for(out.exists)
        child.send("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 1
    assert "threshold failed: (req_p99 < 0.000001) is not true" in child.before
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("t,rps,errors,concurrency") and len(rows) >= 3
    assert validated(json.loads(out.read_text()))["requests_total"] > 0


@pytest.mark.slow
def test_console_refuses_a_bad_threshold_before_opening(tmp_path: Path) -> None:
    child = spawn(["console", "http://127.0.0.1:9/", "--threshold", "p99 <"], tmp_path)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "--threshold" in child.before and "Traceback" not in child.before


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_console_on_a_dead_target_exits_2(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = spawn(["console", f"http://127.0.0.1:{port}/", "-c", "1", "-d", "30s"], tmp_path)
    try:
        child.expect(pexpect.EOF, timeout=60)  # run's rule: exit 2 before the dashboard opens
    finally:
        child.close(force=True)
    assert child.exitstatus == 2
    assert "target unreachable" in child.before and "connection refused" in child.before
    assert "\x1b[?1049h" not in child.before  # the dashboard's alternate screen never opened
