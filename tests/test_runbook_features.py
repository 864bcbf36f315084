"""runn features of issue 21, each against the built-in target or at load: several runbooks in
one run, scopes, url(), test beside loop.until, trace, dump out, deferred steps of includes,
object vars, runner definitions inside steps, credential-named vars and redirects."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from loadscope.engine import Session, SessionConfig
from loadscope.engine.redact import add_secrets, forget_secrets
from loadscope.engine.runbook import RunbookError, RunbookOptions, load_runbooks
from loadscope.engine.session.scenario import UrlScenario
from loadscope.engine.target import TargetProcess

BOOKS = Path(__file__).resolve().parent / "books"
pytestmark = pytest.mark.timeout(60)


def env_for(target: TargetProcess) -> dict[str, str]:
    return {"TARGET": target.http_url, "TARGET_HOST": httpx.URL(target.http_url).netloc.decode()}


def run_books(
    paths: list[Path],
    target: TargetProcess,
    options: RunbookOptions = RunbookOptions(),  # noqa: B008  (frozen: one shared default is fine)
    iterations: int | None = 1,
) -> Session:
    scenario = load_runbooks(paths, env=env_for(target), options=options)
    config = SessionConfig(
        concurrency=1, duration=20.0, max_iterations=iterations, kernel_view=False, detectors=False
    )
    session = Session(config, scenario)  # type: ignore[arg-type]
    asyncio.run(asyncio.wait_for(session.run(), 30))
    return session


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- several runbooks in one run ------------------------------------------------------------------
FAILING = "steps:\n  broken:\n    test: 'false'\n"
SENDING = "runners:\n  req: ${TARGET}\nsteps:\n  ping:\n    req: {/status/200: {get: {}}}\n"


def test_a_failing_runbook_does_not_stop_the_next(tmp_path: Path, target: TargetProcess) -> None:
    first, second = write(tmp_path / "a.yml", FAILING), write(tmp_path / "b.yml", SENDING)
    snapshot = run_books([first, second], target).snapshot()
    assert snapshot.iterations_failed == snapshot.iterations_total == 1
    assert [reason for reason, _ in snapshot.failures] == ["a:broken: test failed: false"]
    assert snapshot.requests_total == 1  # b ran after a failed


def test_fail_fast_stops_at_the_failing_runbook(tmp_path: Path, target: TargetProcess) -> None:
    first, second = write(tmp_path / "a.yml", FAILING), write(tmp_path / "b.yml", SENDING)
    options = RunbookOptions(fail_fast=True)
    snapshot = run_books([first, second], target, options).snapshot()
    assert snapshot.iterations_failed == 1
    assert snapshot.requests_total == 0


# -- scopes ---------------------------------------------------------------------------------------
def test_an_include_outside_the_runbooks_folder_needs_read_parent(tmp_path: Path) -> None:
    write(tmp_path / "shared.yml", "steps:\n  - test: 'true'\n")
    book = write(tmp_path / "books" / "main.yml", "steps:\n  - include: ../shared.yml\n")
    with pytest.raises(RunbookError) as caught:
        load_runbooks([book])
    assert str(caught.value) == (
        f"{book}:2:14: scope error: include {book.parent}/../shared.yml is outside the "
        "runbook's folder (allow it with --scopes read:parent)"
    )
    allowed = RunbookOptions(scopes=frozenset({"read:parent"}))
    assert load_runbooks([book], options=allowed).books[0].steps[0].include is not None
    denied = RunbookOptions(scopes=frozenset({"read:parent", "!read:parent"}))
    with pytest.raises(RunbookError):
        load_runbooks([book], options=denied)


def test_needs_and_custom_runners_outside_the_folder_need_read_parent(tmp_path: Path) -> None:
    write(tmp_path / "shared.yml", "if: included\nsteps:\n  - test: 'true'\n")
    needs = write(
        tmp_path / "b" / "needs.yml", "needs:\n  s: ../shared.yml\nsteps:\n  - test: 'true'\n"
    )
    runner = write(
        tmp_path / "b" / "runner.yml",
        "runners:\n  mine:\n    path: ../shared.yml\nsteps:\n  - mine: {}\n",
    )
    for book in (needs, runner):
        with pytest.raises(RunbookError, match=r"scope error: .* read:parent"):
            load_runbooks([book])
        load_runbooks([book], options=RunbookOptions(scopes=frozenset({"read:parent"})))


def test_an_unknown_scope_is_bad_input(tmp_path: Path) -> None:
    book = write(tmp_path / "b.yml", "steps:\n  - test: 'true'\n")
    with pytest.raises(RunbookError) as caught:
        load_runbooks([book], options=RunbookOptions(scopes=frozenset({"read:everything"})))
    assert str(caught.value).startswith("--scopes: unknown scope 'read:everything'")


# -- secrets nobody declared ----------------------------------------------------------------------
def test_credential_named_vars_are_secrets(tmp_path: Path) -> None:
    write(
        tmp_path / "child.yml", "vars:\n  client_secret: child-s3cret\nsteps:\n  - test: 'true'\n"
    )
    book = write(
        tmp_path / "main.yml",
        "vars:\n"
        "  user: alice\n"
        "  DB_Password: hunter2-db\n"
        "  api:\n    apiKey: k-123456\n    region: eu\n"
        "  tokens: [t-one, t-two]\n"
        "steps:\n"
        "  - include: {path: child.yml, vars: {auth_header: Bearer-xyz}}\n",
    )
    values = set(load_runbooks([book], {"passwd": "from-the-cli"}).secret_values)
    assert {"hunter2-db", "k-123456", "t-one", "t-two", "child-s3cret", "Bearer-xyz"} <= values
    assert "from-the-cli" in values
    assert not values & {"alice", "eu"}


def test_a_load_error_does_not_echo_a_credential(tmp_path: Path) -> None:
    book = write(
        tmp_path / "main.yml",
        "vars:\n  password: hunter22\nsteps:\n  - test: vars.password == 'hunter22' && nobody\n",
    )
    with pytest.raises(RunbookError) as caught:
        load_runbooks([book])
    message = str(caught.value)
    assert "unknown name" in message or "nobody" in message
    assert "hunter22" not in message and "***" in message
    broken = write(tmp_path / "broken.yml", "vars:\n  api_token: 'abc-123-xyz'\nsteps: [\n")
    with pytest.raises(RunbookError) as caught:
        load_runbooks([broken])
    assert "abc-123-xyz" not in str(caught.value)


# -- redirects ------------------------------------------------------------------------------------
def run_url(scenario: UrlScenario) -> Session:
    config = SessionConfig(
        concurrency=1, duration=20.0, max_iterations=1, kernel_view=False, detectors=False
    )
    session = Session(config, scenario)
    asyncio.run(asyncio.wait_for(session.run(), 30))
    return session


def test_url_mode_does_not_follow_redirects_unless_asked(target: TargetProcess) -> None:
    snapshot = run_url(UrlScenario(f"{target.http_url}/redirect/3")).snapshot()
    assert (snapshot.requests_total, snapshot.iterations_failed) == (1, 0)  # a 302 is an answer


def test_url_mode_follows_redirects_each_hop_a_request(target: TargetProcess) -> None:
    scenario = UrlScenario(f"{target.http_url}/redirect/3", max_redirects=10)
    snapshot = run_url(scenario).snapshot()
    assert (snapshot.requests_total, snapshot.iterations_failed) == (4, 0)
    assert snapshot.errors_total == 0


def test_url_mode_stops_after_max_redirects(target: TargetProcess) -> None:
    scenario = UrlScenario(f"{target.http_url}/redirect/5", max_redirects=2)
    snapshot = run_url(scenario).snapshot()
    assert snapshot.requests_total == 3  # the request and 2 hops; the 3rd redirect fails it
    assert snapshot.iterations_failed == 1
    assert [(error.kind, error.last_message) for error in snapshot.errors] == [
        ("too_many_redirects", "stopped after 3 redirects")
    ]


@pytest.mark.parametrize("cookies", [False, True], ids=["plain", "useCookie"])
def test_a_runbook_stops_at_the_tenth_redirect_as_go_does(
    tmp_path: Path, target: TargetProcess, cookies: bool
) -> None:
    book = write(
        tmp_path / "hops.yml",
        "runners:\n  req:\n    endpoint: ${TARGET}\n"
        f"    useCookie: {str(cookies).lower()}\n"
        "steps:\n"
        "  nine:\n    req: {/redirect/9: {get: {}}}\n    test: current.res.status == 200\n"
        "  ten:\n    req: {/redirect/10: {get: {}}}\n",
    )
    snapshot = run_books([book], target).snapshot()
    steps = {step.name: step for step in snapshot.steps}
    assert steps["hops:nine"].requests == 10  # 9 redirects followed, then the answer
    assert steps["hops:ten"].requests == 10  # the 10th redirect response ends it
    assert [(error.kind, error.last_message) for error in snapshot.errors] == [
        ("too_many_redirects", "stopped after 10 redirects")
    ]
    assert [reason for reason, _ in snapshot.failures] == ["hops:ten: too_many_redirects"]


# -- dump out -------------------------------------------------------------------------------------
def test_dump_out_writes_a_file_masked_unless_asked(tmp_path: Path, target: TargetProcess) -> None:
    book = write(
        tmp_path / "dumps.yml",
        "vars:\n  api_token: tok-123456\n"
        "steps:\n"
        "  - dump:\n"
        "      expr: \"{'b': 1, 'a': vars.api_token}\"\n"
        "      out: 'dump-{{ runn.i }}.json'\n"
        "  - dump:\n"
        "      expr: \"'plain ' + vars.api_token\"\n"
        "      out: raw.txt\n"
        "      disableTrailingNewline: true\n"
        "      disableMaskingSecrets: true\n",
    )
    add_secrets(load_runbooks([book]).secret_values)  # as the command line does
    try:
        snapshot = run_books([book], target).snapshot()
    finally:
        forget_secrets()
    assert snapshot.iterations_failed == 0, snapshot.failures
    assert (tmp_path / "dump-0.json").read_text() == '{\n  "a": "***",\n  "b": 1\n}\n'
    assert (tmp_path / "raw.txt").read_text() == "plain tok-123456"


def test_a_dump_that_cannot_be_written_fails_its_step(
    tmp_path: Path, target: TargetProcess
) -> None:
    book = write(
        tmp_path / "nowhere.yml",
        "steps:\n  out:\n    dump: {expr: '1', out: no/such/dir/x.txt}\n",
    )
    snapshot = run_books([book], target).snapshot()
    [(reason, _)] = snapshot.failures
    assert reason.startswith("nowhere:out: dump failed: cannot write ")


# -- object variable expansion --------------------------------------------------------------------
def test_headers_from_a_value_known_only_while_running_is_a_load_error(tmp_path: Path) -> None:
    book = write(
        tmp_path / "late.yml",
        "runners: {req: http://127.0.0.1:9}\n"
        "steps:\n"
        "  - req: {/a: {get: {}}}\n"
        "  - req: {/b: {get: {headers: '{{ steps[0].res.body }}'}}}\n",
    )
    with pytest.raises(RunbookError, match="`headers` from a template is expanded at load"):
        load_runbooks([book])


# -- runner definitions inside steps --------------------------------------------------------------
def test_a_runner_defined_in_a_step_serves_only_the_steps_after_it(tmp_path: Path) -> None:
    book = write(
        tmp_path / "late.yml",
        "steps:\n  - api: {/a: {get: {}}}\n  - runner: {api: 'http://127.0.0.1:9'}\n",
    )
    with pytest.raises(RunbookError) as caught:
        load_runbooks([book])
    assert str(caught.value).startswith(f"{book}:2:5: unknown runner `api`")
    both = write(
        tmp_path / "both.yml",
        "steps:\n  - runner: {api: 'http://127.0.0.1:9'}\n    req: {/a: {get: {}}}\n",
    )
    with pytest.raises(RunbookError, match="a step runs one runner"):
        load_runbooks([both])
