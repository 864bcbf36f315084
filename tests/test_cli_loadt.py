"""`loadscope loadt`, the drop-in for `runn loadt`: its text block line by line, its JSON keys,
its flags and defaults, on the runbooks in examples/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .cli_support import EXAMPLES, loadscope, start, wait_for
from .reports import validated
from .test_cli import RUNN_BLOCK, label

RUNN_KEYS = [
    "runbook_count", "warm_up", "duration", "concurrent", "max_rps", "total", "succeeded",
    "failed", "error_rate", "rps", "latency_max_ms", "latency_min_ms", "latency_avg_ms",
    "latency_med_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms",
]  # fmt: skip
NUMBER = r"\d[\d,]*(\.\d)?"  # go-humanize's CommafWithDigits(x, 1)
VALUES = [
    r"\d+", r"\S+", r"\S+", r"\d+", r"\d+", "", r"\d+", r"\d+", r"\d+", f"{NUMBER}%", NUMBER,
    " ".join(f"{name}={NUMBER}ms" for name in ("max", "min", "avg", "med", "p\\(90\\)",
                                               "p\\(95\\)", "p\\(99\\)")),
]  # fmt: skip
FAST = ["--duration", "500ms", "--warm-up", "0s", "--max-rps", "0", "--load-concurrent", "2"]


def loadt(target: TargetProcess, *args: str) -> tuple[int, str, str]:
    result = loadscope("loadt", *args, env={"TARGET": target.http_url})
    return result.code, result.out, result.err


def runn_block(text: str) -> list[str]:
    return text.splitlines()[: len(RUNN_BLOCK.splitlines())]


@pytest.mark.slow
def test_the_examples_print_runns_block(target: TargetProcess) -> None:
    books = sorted(str(path) for path in EXAMPLES.glob("*.yml"))
    code, out, err = loadt(target, *books, "--duration", "1s", "--warm-up", "0s",
                           "--max-rps", "0", "--load-concurrent", "2")  # fmt: skip
    assert code == 0, err
    lines = runn_block(out)
    expected = RUNN_BLOCK.splitlines()
    assert [label(line) for line in lines] == [label(line) for line in expected]
    for line, value in zip(lines, VALUES, strict=True):
        assert re.fullmatch(re.escape(label(line)) + value, line) or line == "", line
    assert lines[:5] == [
        f"Number of runbooks per RunN....: {len(books)}",
        "Warm up time (--warm-up).......: 0s",
        "Duration (--duration)..........: 1s",
        "Concurrent (--load-concurrent).: 2",
        "Max RunN per second (--max-rps): 0",
    ]
    assert lines[8] == "Failed.........................: 0", out
    assert out.splitlines()[len(lines)] == ""  # then a blank line and loadscope's blocks
    assert "\nRequests\n" in out and "\nConnections\n" in out and "\nSteps\n" in out
    steps = {line.split()[0] for line in out.split("\nSteps\n", 1)[1].splitlines()[1:] if line}
    assert {Path(book).stem for book in books} == {step.split(":")[0] for step in steps}


@pytest.mark.slow
def test_json_has_runns_keys_then_loadscopes_report(target: TargetProcess) -> None:
    books = [str(EXAMPLES / "users.yml"), str(EXAMPLES / "login.yml")]
    result = loadscope("loadt", *books, *FAST, "--format", "json", env={"TARGET": target.http_url})
    assert result.code == 0, result.err
    report = result.json()
    assert list(report) == [*RUNN_KEYS, "loadscope"]
    assert report["runbook_count"] == 2 and report["concurrent"] == 2
    assert (report["warm_up"], report["duration"], report["max_rps"]) == ("0s", "500ms", 0)
    assert report["total"] == report["succeeded"] > 0 and report["failed"] == 0
    assert report["error_rate"] == 0 and report["rps"] == 2 * report["total"]  # over --duration
    ours = report["loadscope"]
    assert ours["iterations_total"] == report["total"]
    assert report["latency_max_ms"] >= report["latency_p99_ms"] >= report["latency_med_ms"] > 0
    assert report["latency_med_ms"] == pytest.approx(ours["iteration_latency_ms"]["p50"], abs=1e-3)
    assert set(ours["steps"]) >= {"users:create", "login:login"}, set(ours["steps"])


@pytest.mark.slow
def test_max_rps_caps_iterations_started_per_second(target: TargetProcess) -> None:
    code, out, err = loadt(
        target, str(EXAMPLES / "demo.yml"), "--duration", "1500ms", "--warm-up", "0s",
        "--max-rps", "10", "--load-concurrent", "3", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    report = validated(json.loads(out))
    assert 13 <= report["total"] <= 15  # at most 10 a second, over 1.5 s
    assert report["rps"] <= 10
    assert all(point["iterations"] <= 10 for point in report["loadscope"]["timeline"])


@pytest.mark.slow
def test_unlimited_concurrency_under_max_rps(target: TargetProcess) -> None:
    code, out, err = loadt(
        target, str(EXAMPLES / "users.yml"), "--duration", "1s", "--warm-up", "0s",
        "--max-rps", "20", "--load-concurrent", "0",
    )  # fmt: skip
    assert code == 0, err
    lines = runn_block(out)
    assert lines[3] == "Concurrent (--load-concurrent).: 0"
    assert lines[6] == "Total..........................: 20"


@pytest.mark.slow
def test_defaults_are_runns(target: TargetProcess) -> None:
    help_text = loadscope("loadt", "--help", env={"COLUMNS": "200"}).out
    for flag, default in (
        ("--load-concurrent N", "(default 1)"),
        ("--duration DURATION", "(default 10sec)"),
        ("--warm-up DURATION", "(default 5sec)"),
        ("--max-rps N", "(default 1)"),
    ):
        line = next(line for line in help_text.splitlines() if line.strip().startswith(flag))
        assert line.rstrip().endswith(default), line
    # The defaults in effect, on a short run that overrides only the duration and warm-up.
    code, out, err = loadt(target, str(EXAMPLES / "demo.yml"), "--duration", "1s",
                           "--warm-up", "500ms")  # fmt: skip
    assert code == 0, err
    lines = runn_block(out)
    assert lines[3:5] == [
        "Concurrent (--load-concurrent).: 1",
        "Max RunN per second (--max-rps): 1",
    ]
    assert lines[6] in ("Total..........................: 1", "Total..........................: 2")


@pytest.mark.slow
def test_threshold_and_var(target: TargetProcess, tmp_path: Path) -> None:
    book = tmp_path / "var.yml"
    book.write_text(
        "runners:\n  req: ${TARGET}\nvars:\n  user: nobody\nsteps:\n  login:\n    req:\n"
        "      /login?user={{ vars.user }}:\n        get: {}\n"
        "    test: current.res.body.user == 'loadt-var'\n"
    )
    code, out, err = loadt(target, str(book), *FAST, "--var", "user:loadt-var",
                           "--threshold", "error_rate == 0 && total > 0")  # fmt: skip
    assert code == 0 and err == "", err
    code, out, err = loadt(target, str(book), *FAST, "--threshold", "error_rate < 1")
    assert code == 1
    assert "Error rate.....................: 100%" in out
    assert err.strip() == "threshold failed: (error_rate < 1) is not true: error_rate=100"


@pytest.mark.slow
def test_interrupted_rps_is_over_the_time_it_ran(target: TargetProcess) -> None:
    answered = target.requests()
    process = start(
        "loadt", str(EXAMPLES / "users.yml"), "--duration", "60s", "--warm-up", "0s",
        "--max-rps", "0", "--load-concurrent", "2", "--format", "json",
        env={"TARGET": target.http_url},
    )  # fmt: skip
    # Interrupt once the load is on (a busy machine may take seconds just to import), not after
    # a nominal pause.
    wait_for(lambda: target.requests() > answered + 100, what="the load to start")
    process.interrupt()
    result = process.finish(timeout=30)
    assert result.code == 130
    values = result.json()
    elapsed = values["loadscope"]["duration_s"]
    assert elapsed < 30 and values["total"] > 0
    assert values["rps"] == pytest.approx(values["total"] / elapsed, rel=0.05)
