"""A capped run (`--iterations N`) on `loadt` and `run`: every one of its N iterations counts,
and every step's outcome is shown (a new user's trial, items 1 and 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess
from loadscope.tui.cli import main

from .cli_support import loadscope
from .reports import validated


def failing_book(tmp_path: Path, url: str) -> str:
    """One step whose test never passes (the target answers 200)."""
    path = tmp_path / "f.yml"
    path.write_text(
        f"runners:\n  api: {url}\nsteps:\n  home:\n    api:\n      /:\n        get: {{}}\n"
        "    test: current.res.status == 999\n"
    )
    return str(path)


def test_loadt_iterations_counts_them_all_despite_runns_default_warm_up(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    args = ["loadt", failing_book(tmp_path, target.http_url), "--iterations", "2", "--max-rps"]
    code = main([*args, "0", "--threshold", "failed == 0", "--out", str(out)])
    text = capsys.readouterr()
    assert code == 1, text.err
    assert "threshold failed: (failed == 0) is not true: failed=2" in text.err
    assert "interrupted" not in text.out + text.err
    document = validated(json.loads(out.read_text()))
    assert (document["total"], document["failed"], document["warm_up"]) == (2, 2, "0s")
    assert document["loadscope"]["interrupted"] is False


@pytest.mark.parametrize("command", ["run", "loadt"])
def test_a_warm_up_beside_iterations_is_bad_input(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = failing_book(tmp_path, "http://127.0.0.1:9")
    assert main([command, path, "--iterations", "2", "--warm-up", "1s"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("loadscope: --iterations N counts every iteration") and "\n" not in err


def test_a_zero_warm_up_beside_iterations_is_fine(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = failing_book(tmp_path, target.http_url)
    assert main(["run", path, "--iterations", "2", "--warm-up", "0s", "--format", "json"]) == 0
    report = validated(json.loads(capsys.readouterr().out))
    assert (report["iterations_total"], report["iterations_failed"]) == (2, 2)


def traced(err: str) -> list[str]:
    """The iterations the `--iterations` trace names, in order."""
    return sorted(line.split("]")[0].strip() + "]" for line in err.splitlines() if "--- f:" in line)


def test_loadt_iterations_shows_every_steps_outcome(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = failing_book(tmp_path, target.http_url)
    assert main(["loadt", path, "--iterations", "2", "--max-rps", "0"]) == 0
    err = capsys.readouterr().err
    assert traced(err) == ["[iteration 1]", "[iteration 2]"], err
    assert err.count("Failure/Error: f:home: test failed: current.res.status == 999") == 2


@pytest.mark.slow
def test_run_iterations_with_workers_shows_every_steps_outcome(
    target: TargetProcess, tmp_path: Path
) -> None:
    path = failing_book(tmp_path, target.http_url)
    result = loadscope("run", path, "--iterations", "4", "-c", "2", "--workers", "2")
    assert result.code == 0, result.err
    assert traced(result.err) == [f"[iteration {n}]" for n in (1, 2, 3, 4)], result.err
    assert "--- f:" not in loadscope("run", path, "--iterations", "2", "--workers", "2", "-q").err


def test_iterations_print_each_dump(
    target: TargetProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.yml"
    path.write_text(
        f"runners:\n  api: {target.http_url}\nsteps:\n  home:\n    api:\n      /json:\n"
        "        get: {}\n    dump: current.res.status\n  again:\n    dump: '\"text\"'\n"
    )
    assert main(["run", str(path), "--iterations", "1", "--format", "json"]) == 0
    err = capsys.readouterr().err
    assert "--- d:home dump: 200\n" in err and "--- d:again dump: text\n" in err
