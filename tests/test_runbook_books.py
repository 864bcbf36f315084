"""Our own runbooks in runn's format (tests/books/), each run against the built-in target.

Each book says on its first line what runn would do with it: `# expect: success`, or
`# expect: failure at STEP` (the step that fails first, as the report names it).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from loadscope.engine import HttpVersion, Session, SessionConfig
from loadscope.engine.runbook import RunbookError, load_runbooks
from loadscope.engine.runbook._scenario import NO_LOAD_WARNING
from loadscope.engine.target import TargetOptions, TargetProcess, write_self_signed

BOOKS = Path(__file__).resolve().parent / "books"
ALL_BOOKS = sorted(BOOKS.glob("*.yml"))
pytestmark = pytest.mark.timeout(60)


def expectation(path: Path) -> str | None:
    """None for success, else the failing step's name."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: say what runn would do on line 1"
    what = first.removeprefix("# expect: ")
    return None if what == "success" else what.removeprefix("failure at ")


def env_for(target: TargetProcess) -> dict[str, str]:
    url = httpx.URL(target.http_url)
    return {
        "TARGET": target.http_url,
        "TARGET_PORT": str(url.port),
        "TARGET_HOST": url.netloc.decode(),
    }


def run(
    path: Path,
    target: TargetProcess,
    concurrency: int = 1,
    http_version: HttpVersion = HttpVersion.AUTO,
) -> Session:
    scenario = load_runbooks([path], env=env_for(target))
    config = SessionConfig(
        concurrency=concurrency,
        duration=0.3,
        kernel_view=False,
        detectors=False,
        http_version=http_version,
    )
    session = Session(config, scenario)  # type: ignore[arg-type]
    asyncio.run(asyncio.wait_for(session.run(), 30))
    return session


@pytest.mark.parametrize("path", ALL_BOOKS, ids=lambda p: p.name)
def test_book_gives_runns_outcome(target: TargetProcess, path: Path) -> None:
    failing_step = expectation(path)
    snapshot = run(path, target).snapshot()
    assert snapshot.iterations_total > 0
    if failing_step is None:
        assert snapshot.iterations_failed == 0, snapshot.failures
        return
    assert snapshot.iterations_failed == snapshot.iterations_total
    book = path.stem
    reasons = [reason for reason, _ in snapshot.failures]
    assert len(reasons) == 1, reasons
    assert reasons[0].startswith(f"{book}:{failing_step}: "), reasons


def test_a_book_without_requests_sends_nothing_and_says_so(target: TargetProcess) -> None:
    path = BOOKS / "no_http.yml"
    scenario = load_runbooks([path])
    assert scenario.warnings == [f"{path}: warning: {NO_LOAD_WARNING}"]
    session = run(path, target)
    snapshot = session.snapshot()
    assert snapshot.requests_total == 0
    assert snapshot.iterations_total > 1
    assert [event.message for event in session.events if NO_LOAD_WARNING in event.message] == [
        NO_LOAD_WARNING
    ]


def test_host_rules_keep_the_host_over_http2(target: TargetProcess) -> None:
    snapshot = run(BOOKS / "http_host_rules.yml", target, http_version=HttpVersion.HTTP2).snapshot()
    assert snapshot.iterations_total > 0
    assert snapshot.iterations_failed == 0, snapshot.failures
    assert dict(snapshot.http_versions).get("HTTP/2", 0) == snapshot.requests_total


def test_concurrency_key_serialises_passes(target: TargetProcess) -> None:
    session = run(BOOKS / "http_concurrency.yml", target, concurrency=3)
    snapshot = session.snapshot()
    assert snapshot.iterations_failed == 0
    assert snapshot.requests_total == snapshot.iterations_total


def test_terminal_functions_are_a_load_error_naming_the_var(tmp_path: Path) -> None:
    path = tmp_path / "otp.yml"
    path.write_text("steps:\n  ask:\n    bind:\n      otp: input('OTP> ', '')\n")
    with pytest.raises(RunbookError) as caught:
        load_runbooks([path])
    assert str(caught.value) == (
        f"{path}:4:12: bind otp: input() reads from a terminal, which a load test does not "
        "have in `input('OTP> ', '')` (give the value as a var instead: --var otp:value)"
    )


def test_only_steps_whose_body_is_read_keep_it(tmp_path: Path) -> None:
    path = tmp_path / "bodies.yml"
    path.write_text(
        "runners: {req: http://127.0.0.1:9}\n"
        "steps:\n"
        "  status: {req: {/a: {get: {}}}, test: current.res.status == 200}\n"
        "  token: {req: {/b: {get: {}}}}\n"
        "  uses: {req: {'/c/{{ steps.token.res.body.id }}': {get: {}}}}\n"
        "  headers: {req: {/d: {get: {}}}, test: len(current.res.headers) > 0}\n"
        "  listed: {req: {/e: {get: {}}}, test: 'len(filter(current.res.body, .ok)) > 0'}\n"
    )
    scenario = load_runbooks([path])
    kept = {request.step_name.split(":")[1]: request.keep_body for request in scenario._requests}
    assert kept == {
        "status": False, "token": True, "uses": False, "headers": False, "listed": True
    }  # fmt: skip


def test_a_body_read_through_parent_keeps_every_body(tmp_path: Path) -> None:
    (tmp_path / "child.yml").write_text("steps:\n  - test: parent.steps[0].res.body != nil\n")
    path = tmp_path / "main.yml"
    path.write_text(
        "runners: {req: http://127.0.0.1:9}\n"
        "steps:\n  - req: {/a: {get: {}}}\n  - include: child.yml\n"
    )
    assert [request.keep_body for request in load_runbooks([path])._requests] == [True]


@pytest.mark.slow
def test_host_rules_over_tls_send_the_mapped_host_as_sni(tmp_path: Path) -> None:
    """The certificate names only the host: verification passes only if TLS asks for that name
    (SNI and hostname check) while the connection goes to the address hostRules maps it to."""
    cert, key = write_self_signed(tmp_path, names=("api.example.test",))
    options = TargetOptions(tls=True, certfile=cert, keyfile=key)
    with TargetProcess(options) as server:
        port = httpx.URL(server.https_url or "").port
        book = tmp_path / "tls_host_rules.yml"
        book.write_text(
            f"""desc: hostRules over TLS
runners:
  req:
    endpoint: https://api.example.test:{port}
    cacert: {cert}
hostRules:
  api.example.test: 127.0.0.1
steps:
  host:
    req:
      /host:
        get: {{}}
    test: current.res.status == 200 && current.res.body.host == 'api.example.test:{port}'
"""
        )
        snapshot = run(book, server).snapshot()
    assert snapshot.iterations_total > 0
    assert snapshot.iterations_failed == 0, snapshot.failures
    assert snapshot.errors_total == 0, snapshot.errors


def test_a_custom_runner_step_that_needs_the_run_is_a_load_error(tmp_path: Path) -> None:
    runner = tmp_path / "runner.yml"
    runner.write_text("if: included\nsteps:\n  - test: 'true'\n")
    path = tmp_path / "book.yml"
    path.write_text(
        "runners:\n"
        "  mine:\n"
        "    path: runner.yml\n"
        "  req: http://127.0.0.1:9\n"
        "steps:\n"
        "  first:\n"
        "    req: {/a: {get: {}}}\n"
        "  second:\n"
        "    mine:\n"
        "      token: '{{ steps.first.res.body }}'\n"
    )
    with pytest.raises(RunbookError) as caught:
        load_runbooks([path])
    message = str(caught.value)
    assert message.startswith(f"{path}:9:5: runner `mine`: ")
    assert "known only while running" in message


def test_a_custom_runner_whose_runbook_is_missing_says_so(tmp_path: Path) -> None:
    path = tmp_path / "book.yml"
    path.write_text("runners:\n  mine:\n    path: nowhere.yml\nsteps:\n  - mine: {x: 1}\n")
    with pytest.raises(RunbookError) as caught:
        load_runbooks([path])
    missing = tmp_path / "nowhere.yml"
    assert str(caught.value) == f"{path}:3:5: runner `mine`: {missing}: no such file"


def test_a_custom_runners_runbook_run_alone_loads_and_does_nothing() -> None:
    """Its endpoint is a template only a caller fills in; `if: included` says it never runs
    alone, so it loads (runn skips it) instead of failing on the template, and says so."""
    path = BOOKS / "runners" / "echo_runner.yml"
    scenario = load_runbooks([path])
    assert not scenario.sends_requests
    [warning] = scenario.warnings
    assert warning.endswith(
        "warning: the runbook runs only when included (`if: included`): run on its own, runn "
        "skips it: every iteration skips it and sends nothing"
    )
