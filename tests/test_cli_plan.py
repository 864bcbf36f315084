"""The command line read into one frozen, typed plan per command (no load is started here)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from loadscope.tui.cli import UsageError
from loadscope.tui.cli._plan import RunPlan, ServePlan, WatchPlan, parse_plan
from loadscope.tui.cli._selection import runbook_ids

TUI = Path(__file__).resolve().parents[1] / "tui"
URL = "http://127.0.0.1:9/"
BOOK = "runners:\n  api: http://127.0.0.1:9/\nsteps:\n  - api:\n      /:\n        get: {}\n"


def run_plan(*argv: str) -> RunPlan:
    plan = parse_plan(argv)
    assert isinstance(plan, RunPlan)
    return plan


def books(tmp_path: Path, *names: str) -> list[str]:
    paths = []
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(BOOK)
        paths.append(str(path))
    return paths


def test_only_the_plan_module_reads_argparse_namespace() -> None:
    offenders = []
    for path in TUI.rglob("*.py"):
        text = path.read_text()
        if "getattr(args" in text:
            offenders.append(f"{path}: getattr(args")
        if "argparse.Namespace" in text and path.name not in ("_args.py", "_plan.py"):
            offenders.append(f"{path}: takes argparse's namespace")
    assert offenders == []


def test_a_run_plan_is_frozen_and_typed() -> None:
    plan = run_plan("run", URL, "-c", "3", "-d", "2s", "--out", "r.json", "-q")
    assert plan.load.config.concurrency == 3 and plan.load.config.duration == 2.0
    assert plan.outputs.out == "r.json" and plan.outputs.quiet
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.outputs = plan.outputs  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.load.workers = 3  # type: ignore[misc]


def test_other_commands_have_plans_too() -> None:
    assert parse_plan(["watch", ":8080", "-d", "3s"]) == WatchPlan(":8080", 3.0, False)
    serve = parse_plan(["serve", "--port", "8001", URL, "-c", "2"])
    assert isinstance(serve, ServePlan) and serve.console.load.config.concurrency == 2
    with pytest.raises(UsageError, match="--metrics-port"):
        parse_plan(["serve", URL, "--metrics-port", "9100"])


def test_loadt_takes_path_patterns_as_runn_does(tmp_path: Path) -> None:
    made = books(tmp_path, "users.yml", "uploads.yml", "items.yml", "deep/u2.yml")
    plan = run_plan("loadt", str(tmp_path / "u*.yml"))
    assert plan.load.spec.runbooks == tuple(sorted(made[:2]))
    everything = run_plan("loadt", str(tmp_path / "**" / "*.yml"))
    assert set(everything.load.spec.runbooks) == set(made)
    with pytest.raises(UsageError, match="no runbook file matches"):
        parse_plan(["loadt", str(tmp_path / "z*.yml")])


def test_loadt_selects_runbooks_with_runns_flags(tmp_path: Path) -> None:
    made = sorted(books(tmp_path, "a.yml", "b.yml", "c.yml", "d.yml"))
    pattern = str(tmp_path / "*.yml")
    assert run_plan("loadt", pattern, "--run", "[bc]\\.yml").load.spec.runbooks == tuple(made[1:3])
    shard = run_plan("loadt", pattern, "--shard-n", "2", "--shard-index", "1")
    assert shard.load.spec.runbooks == (made[1], made[3])
    assert len(run_plan("loadt", pattern, "--sample", "2").load.spec.runbooks) == 2
    assert len(run_plan("loadt", pattern, "--random", "7").load.spec.runbooks) == 7
    seeded = [run_plan("loadt", pattern, "--shuffle", "42").load.spec.runbooks for _ in (1, 2)]
    assert seeded[0] == seeded[1] and sorted(seeded[0]) == made
    with pytest.raises(UsageError, match="--shuffle"):
        parse_plan(["loadt", pattern, "--shuffle", "maybe"])
    with pytest.raises(UsageError, match="--shard-index"):
        parse_plan(["loadt", pattern, "--shard-n", "2", "--shard-index", "2"])


def test_runbook_ids_are_runns_path_hashes(tmp_path: Path) -> None:
    one, other = books(tmp_path, "x/book.yml", "y/book.yml")
    ids = runbook_ids([one, other])  # the file names alone collide: the folder tells them apart
    assert ids[one] == hashlib.sha1(b"book.yml/x").hexdigest()
    plan = run_plan("loadt", one, other, "--id", ids[other][:8], "--id", ids[one][:8])
    assert plan.load.spec.runbooks == (other, one)
    with pytest.raises(UsageError, match="no runbook has the id prefix"):
        parse_plan(["loadt", one, "--id", "zzzz"])


def test_loadt_runbook_flags_reach_the_engine(tmp_path: Path) -> None:
    (book,) = books(tmp_path, "a.yml")
    env_file = tmp_path / ".env"
    env_file.write_text("# secrets\nexport TOKEN='abc'\nHOST=h.test # here\n")
    plan = run_plan(
        "loadt", book, "--fail-fast", "--scopes", "read:parent,read:remote", "--skip-test",
        "--host-rules", "api.test 127.0.0.1:8080", "--env-file", str(env_file),
    )  # fmt: skip
    options = plan.load.spec.runbook_options
    assert options.fail_fast and options.skip_test
    assert options.scopes == frozenset({"read:parent", "read:remote"})
    assert options.host_rules == (("api.test", "127.0.0.1:8080"),)
    expected = {"TOKEN": os.environ.get("TOKEN", "abc"), "HOST": os.environ.get("HOST", "h.test")}
    assert dict(plan.load.spec.env) == expected


def test_run_wires_fail_fast_and_scopes(tmp_path: Path) -> None:
    (book,) = books(tmp_path, "a.yml")
    options = run_plan("run", book, "--fail-fast", "--scopes", "read:parent").load.spec
    assert options.runbook_options.fail_fast
    assert options.runbook_options.scopes == frozenset({"read:parent"})
    with pytest.raises(UsageError, match="for runbooks"):
        parse_plan(["run", URL, "--fail-fast"])


def test_runns_grpc_flags_are_accepted_and_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (book,) = books(tmp_path, "a.yml")
    run_plan("loadt", book, "--grpc-no-tls", "--grpc-proto", "a.proto", "--wait-timeout", "3sec")
    assert "--grpc-* flags apply to gRPC runners" in capsys.readouterr().err
    with pytest.raises(UsageError, match="--capture"):
        parse_plan(["loadt", book, "--capture", str(tmp_path / "missing")])
    assert run_plan("loadtest", book).command == "loadt"


def test_abort_flags_are_checked() -> None:
    plan = run_plan("run", URL, "--threshold", "p99 < 5", "--abort-on-fail", "--abort-grace", "3s")
    assert plan.abort is not None and plan.abort.grace == 3.0
    assert run_plan("run", URL, "--threshold", "p99 < 5").abort is None
    with pytest.raises(UsageError, match="add --abort-on-fail"):
        parse_plan(["run", URL, "--abort-grace", "3s"])
    with pytest.raises(UsageError, match="give one"):
        parse_plan(["run", URL, "--abort-on-fail"])


def test_header_size_and_redirect_flags() -> None:
    spec = run_plan("run", URL).load.spec
    assert spec.max_header_size == 1024 * 1024 and spec.max_redirects is None
    spec = run_plan("run", URL, "--max-header-size", "16KiB", "--follow-redirects").load.spec
    assert spec.max_header_size == 16 * 1024 and spec.max_redirects == 10
    assert run_plan("run", URL, "--follow-redirects=3").load.spec.max_redirects == 3
    with pytest.raises(UsageError, match="--max-header-size"):
        parse_plan(["run", URL, "--max-header-size", "lots"])
