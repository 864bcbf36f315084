"""A signal at any moment, from the first instant loadscope's own code runs (the engine still
importing) to the middle of the load: exit 130, no traceback, and the `--out` report, marked
interrupted. `run` and `loadt`, SIGINT and SIGTERM."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .cli_support import EXAMPLES, Popen, start, wait_for
from .reports import validated

SIGNALS = [signal.SIGINT, signal.SIGTERM]
DELAYS = [0.0, 0.05, 0.15, 0.5]  # after loadscope took over the signals


def catches_sigterm(pid: int) -> bool:
    """The process handles SIGTERM (its SigCgt mask in /proc): loadscope's code runs and has
    taken over both signals. (Python itself catches SIGINT from its start, so that bit says
    nothing.)"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))


def command(kind: str, url: str, out: Path) -> list[str]:
    if kind == "run":
        return ["run", url, "-c", "2", "-d", "20s", "--out", str(out)]
    book = str(EXAMPLES / "demo.yml")
    return ["loadt", book, "--load-concurrent", "2", "--duration", "20sec", "--warm-up", "0sec",
            "--max-rps", "0", "--out", str(out)]  # fmt: skip


def interrupted_report(out: Path) -> dict[str, object]:
    report = validated(json.loads(out.read_text()))
    return report.get("loadscope", report)  # type: ignore[return-value]


def signalled_at_start(process: Popen, sig: signal.Signals, delay: float) -> None:
    wait_for(lambda: catches_sigterm(process.pid) or process.poll() is not None, what="handlers")
    time.sleep(delay)  # the moment under test, not a wait for something to happen
    process.send_signal(sig)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["run", "loadt"])
@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("delay", DELAYS)
def test_a_signal_while_starting_gives_130_and_a_report(
    target: TargetProcess, tmp_path: Path, kind: str, sig: signal.Signals, delay: float
) -> None:
    out = tmp_path / "report.json"
    process = start(*command(kind, target.http_url, out), env={"TARGET": target.http_url})
    signalled_at_start(process, sig, delay)
    result = process.finish(timeout=60)
    assert result.code == 130, result.err
    assert "Traceback" not in result.err
    assert interrupted_report(out)["interrupted"] is True


@pytest.mark.slow
@pytest.mark.parametrize("sig", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_a_signal_in_the_middle_of_loadt(
    target: TargetProcess, tmp_path: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "report.json"
    requests = target.requests()
    process = start(*command("loadt", target.http_url, out), env={"TARGET": target.http_url})
    wait_for(lambda: target.requests() > requests or process.poll() is not None, what="load")
    process.send_signal(sig)
    result = process.finish(timeout=60)
    assert result.code == 130, result.err
    report = interrupted_report(out)
    assert report["interrupted"] is True
    assert isinstance(report["requests_total"], int) and report["requests_total"] > 0
