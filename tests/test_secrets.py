"""A planted secret never reaches an output: a password in the URL, `Authorization`,
`Proxy-Authorization` and `Cookie` header values, a runbook's `secrets:` and its runners' URL
userinfo. Every output is searched: stdout, stderr, --out, --csv, and the console's saved
report, text and screenshot."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from loadscope.engine import SessionConfig
from loadscope.engine.control import EngineProcess, ScenarioSpec
from loadscope.engine.metrics.report import redact_snapshot
from loadscope.engine.redact import forget_secrets
from loadscope.engine.target import TargetProcess
from loadscope.tui.app import ConsoleOptions, LoadscopeApp
from loadscope.tui.cli._console import report_renderer
from loadscope.tui.cli._plan import RunPlan, parse_plan
from loadscope.tui.screens.summary import SummaryScreen

from .cli_support import Result, loadscope

PASSWORD = "urlpw-S3CRET-1"
TOKEN = "bearer-S3CRET-2"
COOKIE = "cookie-S3CRET-3"
PROXY = "proxy-S3CRET-4"
BOOK_SECRET = "book-S3CRET-5"
RUNNER_PASSWORD = "runnerpw-S3CRET-6"
PLANTED = (PASSWORD, TOKEN, COOKIE, PROXY, BOOK_SECRET, RUNNER_PASSWORD)
HEADERS = [
    "-H", f"Authorization: Bearer {TOKEN}",
    "-H", f"Cookie: sid={COOKIE}",
    "-H", f"Proxy-Authorization: Basic {PROXY}",
]  # fmt: skip


def leaks(*texts: str) -> list[str]:
    return [secret for secret in PLANTED if any(secret in text for text in texts)]


def files_text(directory: Path) -> str:
    return "\n".join(path.read_text(errors="replace") for path in sorted(directory.iterdir()))


def secret_url(target: TargetProcess, userinfo: str = f"alice:{PASSWORD}") -> str:
    return target.http_url.replace("://", f"://{userinfo}@") + "/json"


def runbook(tmp_path: Path, target: TargetProcess) -> Path:
    book = tmp_path / "book.yml"
    runner = target.http_url.replace("://", f"://bob:{RUNNER_PASSWORD}@")
    book.write_text(
        f"""secrets:
  - vars.password
vars:
  password: {BOOK_SECRET}
runners:
  api: {runner}
steps:
  - api:
      /login:
        post:
          headers:
            Authorization: "Bearer {TOKEN}"
          body:
            application/json:
              user: bob
              password: "{{{{ vars.password }}}}"
    dump: vars.password
    test: current.res.status == 299 && vars.password == "{BOOK_SECRET}"
"""
    )
    return book


@pytest.mark.slow
@pytest.mark.parametrize("report_format", ["json", "text"])
def test_a_url_run_leaks_nothing(target: TargetProcess, tmp_path: Path, report_format: str) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = loadscope(
        "run", secret_url(target), *HEADERS, "-c", "2", "-d", "1s", "--format", report_format,
        "--out", str(out_dir / "report.json"), "--csv", str(out_dir / "timeline.csv"),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "***@" in result.out or report_format == "text"
    assert leaks(result.out, result.err, files_text(out_dir)) == []


@pytest.mark.slow
def test_a_runbook_run_and_loadt_leak_nothing(target: TargetProcess, tmp_path: Path) -> None:
    book = runbook(tmp_path, target)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    results: list[Result] = [
        loadscope("run", str(book), *HEADERS, "-c", "2", "-d", "1s", "--format", "json",
                  "--out", str(out_dir / "run.json"), "--csv", str(out_dir / "run.csv")),
        loadscope("run", str(book), "-c", "1", "-d", "1s"),
        loadscope("loadt", str(book), "--duration", "1sec", "--warm-up", "0sec",
                  "--out", str(out_dir / "loadt.json")),
    ]  # fmt: skip
    for result in results:
        assert result.code == 0, result.err
        assert leaks(result.out, result.err) == []
    assert "test failed" in results[1].out  # the failing test's text is shown, masked
    assert leaks(files_text(out_dir)) == []


@pytest.mark.slow
def test_an_unreachable_target_leaks_nothing_on_stderr() -> None:
    result = loadscope("run", f"http://alice:{PASSWORD}@127.0.0.1:9/", *HEADERS, "-d", "2s")
    assert result.code == 2
    assert leaks(result.out, result.err) == []


async def until(pilot: Pilot, condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


@pytest.mark.slow
async def test_the_console_header_and_saved_files_leak_nothing(
    target: TargetProcess, tmp_path: Path
) -> None:
    forget_secrets()
    run = parse_plan(["console", secret_url(target), *HEADERS, "-c", "2"])
    assert isinstance(run, RunPlan)
    plan = run.load  # read as the command line reads it: the secrets are known
    engine = EngineProcess(plan.spec, plan.config, push_interval=0.2)
    options = ConsoleOptions(
        label=secret_url(target), summary_json=str(tmp_path / "summary.json"), save_dir=tmp_path
    )
    app = LoadscopeApp(engine, options, report_renderer(plan), poll_seconds=0.2)
    engine.start()
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.snapshot.requests_total)
            dashboard = app.export_screenshot()
            await pilot.press("s")
            saved = {".json", ".txt", ".svg", ".html"}  # the report, its text, screenshot, HTML
            await until(pilot, lambda: {p.suffix for p in tmp_path.glob("loadscope-*")} == saved)
            await pilot.press("q")
            await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
            summary = app.export_screenshot()
    finally:
        if not engine.finished:
            engine.stop()
            engine.wait_final(10)
        engine.close()
    assert "***@" in files_text(tmp_path)
    assert "***@" in dashboard  # the header shows the target, masked
    assert leaks(files_text(tmp_path), dashboard, summary) == []


RUNTIME_SECRET = "runtime-S3CRET-7"  # only the target's answer says it: learnt while running


def runtime_runbook(tmp_path: Path, target: TargetProcess) -> Path:
    """`secrets:` names a value bound from a response, and a path into the current one."""
    book = tmp_path / "runtime.yml"
    book.write_text(
        f"""secrets:
  - who
  - current.res.body.user
runners:
  api: {target.http_url}
steps:
  login:
    api:
      /login:
        post:
          body:
            application/json:
              user: "{RUNTIME_SECRET}"
    dump: current.res.body.user
    bind:
      who: current.res.body.user
  check:
    api:
      /json:
        get: {{}}
    dump: who
    test: who == "somebody else"
"""
    )
    return book


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_secret_bound_while_running_is_masked_from_then_on(
    target: TargetProcess, tmp_path: Path, workers: str
) -> None:
    book = runtime_runbook(tmp_path, target)
    out = tmp_path / "report.json"
    result = loadscope(
        "run", str(book), "-c", "2", "-d", "1s", "--workers", workers, "--out", str(out),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "test failed" in result.out  # the failures are reported...
    texts = (result.out, result.err, out.read_text())
    assert not any(RUNTIME_SECRET in text for text in texts)  # ...and the value is masked


@pytest.mark.slow
def test_a_secret_learnt_in_the_engine_process_is_masked_in_the_console(
    target: TargetProcess, tmp_path: Path
) -> None:
    """The console's engine runs in a child process: what it learns reaches the parent with
    its snapshots, before the event log shows the runbook's dumps."""
    forget_secrets()
    spec = ScenarioSpec(runbooks=(str(runtime_runbook(tmp_path, target)),))
    engine = EngineProcess(spec, SessionConfig(concurrency=1), push_interval=0.2)
    engine.start()
    try:
        deadline = time.monotonic() + 60
        dumps: list[str] = []
        while not dumps and time.monotonic() < deadline:
            time.sleep(0.1)
            snapshot = engine.updates()
            if snapshot is not None:
                shown = redact_snapshot(snapshot)
                dumps = [e.message for e in shown.events if e.kind == "dump"]
    finally:
        engine.stop()
        engine.wait_final(10)
        engine.close()
    assert dumps, "no dump in the event log"
    assert all("***" in message and RUNTIME_SECRET not in message for message in dumps)


@pytest.mark.slow
def test_a_secret_the_caller_names_and_a_custom_runner_binds_is_masked(
    target: TargetProcess, tmp_path: Path
) -> None:
    """`secrets:` of the calling runbook hold in the runbooks it runs (include, custom runner)."""
    (tmp_path / "login.yml").write_text(
        f"""if: included
runners:
  api: {target.http_url}
steps:
  -
    api:
      /login:
        post:
          body:
            application/json:
              user: '{{{{ parent.nodes.user }}}}'
    bind:
      who: current.res.body.user
"""
    )
    book = tmp_path / "caller.yml"
    book.write_text(
        f"""secrets:
  - who
runners:
  login:
    path: login.yml
steps:
  signin:
    login:
      user: "{RUNTIME_SECRET}"
  check:
    test: int(steps.signin.who) == 1
"""
    )
    out = tmp_path / "report.json"
    result = loadscope("run", str(book), "--iterations", "2", "-c", "1", "--out", str(out))
    assert result.code == 0, result.err
    assert "test failed" in result.out + result.err
    assert not any(RUNTIME_SECRET in text for text in (result.out, result.err, out.read_text()))


def test_credential_names_follow_sentrys_default_list() -> None:
    from loadscope.engine.redact import credential_values, is_credential_name

    for name in ("password", "DB_PASSWORD", "passwd", "client_secret", "authToken", "X-Api-Key",
                 "apikey", "credentials", "private_key", "refresh_token", "author"):  # fmt: skip
        assert is_credential_name(name), name
    for name in ("user", "host", "region", "key", "pass"):
        assert not is_credential_name(name), name
    assert credential_values({"a": {"token": ["x1", {"n": 5}]}, "b": "y", "ok": True}) == [
        "x1",
        "5",
    ]


def test_credential_assignments_in_echoed_text_are_masked() -> None:
    from loadscope.engine.redact import mask_credential_assignments

    text = "at line 3: password: hunter2, 'api_key': 'k 1', token=abc; vars.token == t; user: bob"
    assert mask_credential_assignments(text) == (
        "at line 3: password: ***, 'api_key': ***, token=***; vars.token == t; user: bob"
    )
