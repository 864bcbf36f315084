"""Ctrl-C and SIGTERM on a real `loadscope run`: exit 130, the report file complete, and every
connection closed (the target's count back to its baseline, none left in the child)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .cli_support import Popen, established_to, port_of, start, wait_for
from .helpers import signal_pending
from .reports import validated


def started_load(
    target: TargetProcess, process: Popen, baseline: int, requests: int, vus: int
) -> None:
    """Wait until the child has its connections open and a request in flight on each
    (`baseline` and `requests`: the target's counts before the child started)."""
    wait_for(
        lambda: (
            (target.open_connections() >= baseline + vus and target.requests() >= requests + vus)
            or process.poll() is not None
        ),
        what="the load to start",
    )
    assert process.poll() is None, process.finish().err


def closed_everything(target: TargetProcess, pid: int, baseline: int) -> None:
    assert target.wait_until(lambda t: t.open_connections() == baseline, timeout=5)
    assert established_to(pid, port_of(target.http_url)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_writes_the_report_and_closes_everything(
    target: TargetProcess, tmp_path: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "report.json"
    baseline, requests = target.open_connections(), target.requests()
    process = start("run", target.http_url + "/delay/5", "-c", "4", "-d", "60s", "--out", str(out))
    started_load(target, process, baseline, requests, 4)
    process.interrupt(sig)
    result = process.finish(timeout=30)
    assert result.code == 130
    assert result.out.startswith("Number of runbooks per RunN")  # the report is printed
    assert result.err.strip().splitlines()[-1] == "loadscope: interrupted; report written"
    report = validated(json.loads(out.read_text()))  # complete JSON
    assert report["interrupted"] is True
    assert report["requests_total"] > 0 and report["errors_total"] == 0
    assert report["iterations_total"] == report["iterations_succeeded"]  # in-flight ones finished
    assert 0 < report["duration_s"] < 30
    assert report["connections_opened"] == report["connections_closed"] == 4
    closed_everything(target, process.pid, baseline)


@pytest.mark.slow
def test_a_second_sigint_aborts_the_grace(target: TargetProcess, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    baseline, requests = target.open_connections(), target.requests()
    process = start(
        "run", target.http_url + "/delay/3000", "-c", "3", "-d", "60s", "--grace", "30s",
        "--out", str(out), "--format", "json",
    )  # fmt: skip
    started_load(target, process, baseline, requests, 3)
    process.interrupt()
    wait_for(lambda: not signal_pending(process.pid, signal.SIGINT), what="the first SIGINT")
    assert process.poll() is None  # waiting for the 3 s requests within the 30 s grace
    process.interrupt()
    result = process.finish(timeout=30)
    assert result.code == 130
    report = result.json()
    assert json.loads(out.read_text()) == report
    assert report["interrupted"] is True
    # Cut, not waited for: the 3 s requests are interrupted errors, not successes.
    assert report["iterations_total"] == report["iterations_failed"] == 3
    assert report["requests_total"] == report["errors_total"] == 3
    assert report["error_kinds"] == {"interrupted": 3}
    assert report["connections_opened"] == report["connections_closed"] == 3
    closed_everything(target, process.pid, baseline)


@pytest.mark.slow
def test_interrupted_during_the_warm_up_reports_nothing_measured(
    target: TargetProcess, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    baseline, requests = target.open_connections(), target.requests()
    process = start(
        "run", target.http_url, "-c", "2", "--warm-up", "60s", "-d", "60s", "--out", str(out)
    )
    started_load(target, process, baseline, requests, 2)
    process.interrupt()
    result = process.finish(timeout=30)
    assert result.code == 130
    report = validated(json.loads(out.read_text()))
    assert report["interrupted"] is True
    assert report["requests_total"] == report["iterations_total"] == 0  # all of it was warm-up
    assert report["timeline"] == []
    closed_everything(target, process.pid, baseline)
