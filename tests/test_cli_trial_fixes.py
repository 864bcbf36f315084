"""What a user trying loadscope hit on the command line (issue 21), each fixed and kept so."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadscope.engine.target import TargetProcess
from loadscope.tui.cli import main

from .reports import validated


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


def book(tmp_path: Path, url: str, name: str = "book.yml") -> str:
    path = tmp_path / name
    path.write_text(
        f"runners:\n  api: {url}\nsteps:\n  home:\n    api:\n      /:\n        get: {{}}\n"
        "    test: current.res.status == 200\n"
    )
    return str(path)


def report(path: Path) -> dict[str, Any]:
    return validated(json.loads(path.read_text()))


def test_a_run_nothing_answered_is_exit_2_with_null_latencies(
    silent_listener: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    args = [silent_listener, "-c", "1", "-d", "1s", "--timeout", "300ms", "--out", str(out)]
    code = main(["run", *args, "-q"])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "nothing was answered" in captured.err
    assert "request p50 –" in captured.out and "0.00ms" not in captured.out
    latency = report(out)["latency_ms"]
    assert latency["p50"] is None and latency["max"] is None
    assert all(step["latency_ms"]["p99"] is None for step in report(out)["steps"].values())


def test_the_steps_table_shows_a_dash_when_nothing_answered(
    silent_listener: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", silent_listener, "-c", "1", "-d", "1s", "--timeout", "300ms"])
    steps = capsys.readouterr().out.split("Steps", 1)[1].splitlines()[2]
    assert code == 2
    assert "–" in steps and "0.00ms" not in steps


def test_a_tls_port_spoken_to_in_plain_http_is_exit_2(
    target: TargetProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    assert target.https_url is not None
    plain = target.https_url.replace("https://", "http://")
    code = main(["run", plain, "-c", "2", "-d", "1s", "--timeout", "500ms", "-q"])
    assert code == 2, capsys.readouterr().err


def test_every_report_file_gets_one_mode(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {name: tmp_path / name for name in ("r.json", "r.csv", "r.html")}
    previous = os.umask(0o027)
    try:
        code = main(
            ["run", target.http_url + "/", "-c", "1", "-d", "1s", "-q",
             "--out", str(files["r.json"]), "--csv", str(files["r.csv"]),
             "--html", str(files["r.html"])]
        )  # fmt: skip
    finally:
        os.umask(previous)
    assert code == 0, capsys.readouterr().err
    modes = {name: stat.S_IMODE(path.stat().st_mode) for name, path in files.items()}
    assert set(modes.values()) == {0o640}, modes


def test_quiet_silences_the_iterations_trace_which_names_each_iteration(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = book(tmp_path, target.http_url)
    assert main(["run", path, "--iterations", "3", "-c", "2"]) == 0
    trace = [line for line in capsys.readouterr().err.splitlines() if "--- book:home" in line]
    assert sorted(line.split("]")[0].strip() for line in trace) == [
        "[iteration 1",
        "[iteration 2",
        "[iteration 3",
    ]
    assert main(["run", path, "--iterations", "3", "-c", "2", "-q"]) == 0
    assert "--- book:home" not in capsys.readouterr().err


def test_abort_on_fail_stops_the_run_and_says_which_threshold_and_when(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    code = main(
        ["run", target.http_url + "/", "-c", "2", "-d", "60s", "--threshold", "req_p99 < 0",
         "--threshold", "req_total >= 0", "--abort-on-fail", "--out", str(out), "-q"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1, err
    document = report(out)
    assert document["aborted_by"]["expression"] == "req_p99 < 0"
    assert "--abort-on-fail stopped the run" in err
    assert document["duration_s"] < 60  # stopped, not run to its end
    first = {t["expression"]: t["first_failed_at_s"] for t in document["thresholds"]}
    assert first["req_p99 < 0"] is not None and first["req_total >= 0"] is None


def test_abort_grace_delays_the_abort(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    code = main(
        ["run", target.http_url + "/", "-c", "1", "-d", "60s", "--threshold", "req_p99 < 0",
         "--abort-on-fail", "--abort-grace", "2s", "--out", str(out), "-q"]
    )  # fmt: skip
    assert code == 1, capsys.readouterr().err
    assert report(out)["aborted_by"]["at_s"] >= 2


def test_live_thresholds_without_abort_report_when_they_first_failed(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    code = main(
        ["run", target.http_url + "/", "-c", "1", "-d", "2s", "--threshold", "req_p99 < 0",
         "--out", str(out), "-q"]
    )  # fmt: skip
    assert code == 1, capsys.readouterr().err
    document = report(out)
    assert document["aborted_by"] is None
    assert document["thresholds"][0]["first_failed_at_s"] is not None


def test_a_bad_threshold_line_has_the_loadscope_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "http://127.0.0.1:9/", "--threshold", "p99 <"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("loadscope: --threshold:1:"), line


def test_demo_without_a_terminal_suggests_demo_headless(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOADSCOPE_FORCE_CONSOLE", raising=False)
    assert main(["demo"]) == 2
    assert "`loadscope demo --headless`" in capsys.readouterr().err
    assert main(["demo", "churn"]) == 2
    assert "`loadscope demo churn --headless`" in capsys.readouterr().err


def test_serve_on_a_busy_port_fails_before_it_says_serving(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(["serve", "--port", str(port), "http://127.0.0.1:9/"])
    captured = capsys.readouterr()
    assert code == 2
    assert "Serving" not in captured.out and f"cannot listen on 127.0.0.1:{port}" in captured.err


def test_the_workers_limit_and_auto_tell_one_story(monkeypatch: pytest.MonkeyPatch) -> None:
    from loadscope.tui.cli import UsageError, _options

    monkeypatch.setattr(_options, "available_cores", lambda: 2)
    assert _options.parse_workers("auto") == 2
    with pytest.raises(UsageError) as refused:
        _options.parse_workers("64")
    message = str(refused.value)
    assert "auto picks 2 (one per core" in message and "at most 8 (4 per core)" in message


def test_compare_writes_numbers_as_the_console_does() -> None:
    from loadscope.tui.cli._compare import _number

    assert _number(12345.6) == "12,346" and _number(4.25) == "4.25"
    assert _number(1234.5, " ms") == "1.23s" and _number(None) == "–"
    assert _number(-3.5) == "-3.50"


def test_loadt_aborts_on_a_failing_threshold_too(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    code = main(
        ["loadt", book(tmp_path, target.http_url), "--duration", "60sec", "--warm-up", "0sec",
         "--max-rps", "0", "--load-concurrent", "1", "--threshold", "p99 < 0",
         "--abort-on-fail", "--out", str(out)]
    )  # fmt: skip
    assert code == 1, capsys.readouterr().err
    document = json.loads(out.read_text())
    assert document["loadscope"]["aborted_by"]["expression"] == "p99 < 0"
