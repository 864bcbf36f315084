"""runn loadt's flags that change what a runbook sends or how runbooks run: `--runner`,
`--overlay`/`--underlay`, `--skip-included`, `--concurrent` and `--http-openapi3`, in-process on
a fake server, and end to end against the built-in target."""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path

import httpx
import pytest

from loadscope.engine import IterationFailed
from loadscope.engine.metrics import StepStats
from loadscope.engine.runbook import RunbookError, RunbookOptions, load_runbooks
from loadscope.engine.target import TargetProcess
from loadscope.engine.transport import RawRequest, RawResponse, Runner
from loadscope.tui.cli import UsageError

from .cli_support import EXAMPLES, loadscope
from .test_cli_plan import run_plan
from .test_runbook_run import ENDPOINT, Answer, FakeVU, book, prepared, run, server

DEAD = "http://127.0.0.1:9"  # nothing listens: a runbook pointed here fails unless redirected
TWO_STEPS = f"""
desc: base
runners:
  req: {ENDPOINT}/base
vars:
  user: alice
  keep: 1
steps:
  first:
    req: {{/a: {{get: {{}}}}}}
  second:
    req: {{"/b?u={{{{ vars.user }}}}": {{get: {{}}}}}}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return str(path)


# -- --runner ------------------------------------------------------------------------------------
def test_runner_replaces_a_runbooks_runner_and_adds_a_missing_one(tmp_path: Path) -> None:
    path = book(tmp_path, TWO_STEPS)
    options = RunbookOptions(runners=(("req", f"{ENDPOINT}/other"),))
    assert run(prepared(path, options=options)).paths() == ["/other/a", "/other/b?u=alice"]
    uses_api = book(tmp_path, "steps:\n  - api: {/x: {get: {}}}\n", "api.yml")
    options = RunbookOptions(runners=(("api", ENDPOINT),))
    assert run(prepared(uses_api, options=options)).paths() == ["/x"]


def test_runner_flag_is_key_colon_dsn(tmp_path: Path) -> None:
    path = book(tmp_path, TWO_STEPS)
    plan = run_plan("loadt", str(path), "--runner", "req:http://127.0.0.1:8080/v1,db:x://y")
    assert plan.load.spec.runbook_options.runners == (
        ("req", "http://127.0.0.1:8080/v1"),
        ("db", "x://y"),
    )
    with pytest.raises(UsageError, match="--runner: 'req' is not KEY:DSN"):
        run_plan("loadt", str(path), "--runner", "req")


@pytest.mark.slow
def test_loadt_runner_points_a_runbook_at_the_target(target: TargetProcess, tmp_path: Path) -> None:
    text = f"runners:\n  req: {DEAD}\nsteps:\n  - req: {{/: {{get: {{}}}}}}\n"
    path = write(tmp_path, "dead.yml", text)
    args = ["loadt", path, "--duration", "300ms", "--warm-up", "0s", "--max-rps", "0"]
    result = loadscope(*args, "--runner", f"req:{target.http_url}", "--format", "json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["total"] == report["succeeded"] > 0 and report["failed"] == 0


# -- --overlay and --underlay ---------------------------------------------------------------------
def test_an_overlay_wins_key_by_key_and_adds_its_steps_after(tmp_path: Path) -> None:
    path = book(tmp_path, TWO_STEPS)
    over = write(tmp_path, "over.yml", f"""
        runners:
          req: {ENDPOINT}/over
        vars:
          user: bob
        steps:
          third:
            req: {{"/c?keep={{{{ vars.keep }}}}": {{get: {{}}}}}}
    """)  # fmt: skip
    scenario = prepared(path, options=RunbookOptions(overlays=(over,)))
    assert run(scenario).paths() == ["/over/a", "/over/b?u=bob", "/over/c?keep=1"]


def test_underlays_only_fill_what_the_runbook_lacks_and_go_first(tmp_path: Path) -> None:
    path = book(tmp_path, TWO_STEPS)
    low = write(tmp_path, "low.yml", f"""
        runners:
          req: {ENDPOINT}/under
          extra: {ENDPOINT}/extra
        vars:
          user: bob
          more: 2
        steps:
          zero:
            extra: {{"/z?more={{{{ vars.more }}}}": {{get: {{}}}}}}
    """)  # fmt: skip
    lower = write(tmp_path, "lower.yml", """
        vars:
          more: 3
        steps:
          minus:
            req: {/m: {get: {}}}
    """)  # fmt: skip
    # runn lays the first underlay lowest: its steps first, its values below the next one's
    scenario = prepared(path, options=RunbookOptions(underlays=(lower, low)))
    paths = run(scenario).paths()
    assert paths == ["/base/m", "/extra/z?more=2", "/base/a", "/base/b?u=alice"]


def test_overlays_apply_in_order_and_the_runner_flag_comes_before_them(tmp_path: Path) -> None:
    path = book(tmp_path, TWO_STEPS)
    one = write(tmp_path, "one.yml", "vars:\n  user: one\n")
    two = write(tmp_path, "two.yml", f"vars:\n  user: two\nrunners:\n  req: {ENDPOINT}/two\n")
    options = RunbookOptions(runners=(("req", f"{ENDPOINT}/flag"),), overlays=(two, one))
    assert run(prepared(path, options=options)).paths() == ["/two/a", "/two/b?u=one"]


def test_a_bad_layer_is_one_clear_error(tmp_path: Path) -> None:
    path = book(tmp_path, TWO_STEPS)
    listed = write(tmp_path, "listed.yml", "steps:\n  - req: {/l: {get: {}}}\n")
    with pytest.raises(RunbookError, match="only runbooks of the same type can be layered"):
        prepared(path, options=RunbookOptions(overlays=(listed,)))
    with pytest.raises(RunbookError, match=r"--underlay: .*missing\.yml: no such file"):
        prepared(path, options=RunbookOptions(underlays=(str(tmp_path / "missing.yml"),)))
    scalar = write(tmp_path, "scalar.yml", "just text\n")
    with pytest.raises(RunbookError, match="a layer is a runbook map, not a string"):
        prepared(path, options=RunbookOptions(overlays=(scalar,)))


def test_an_included_runbook_is_not_layered(tmp_path: Path) -> None:
    inc = f"runners:\n  inc: {ENDPOINT}/inc\nsteps:\n  - inc: {{/i: {{get: {{}}}}}}\n"
    book(tmp_path, inc, "inc.yml")
    top = f"runners:\n  req: {ENDPOINT}/top\nsteps:\n  - include: inc.yml\n"
    over = write(tmp_path, "over.yml", "steps:\n  - req: {/o: {get: {}}}\n")
    scenario = prepared(book(tmp_path, top, "top.yml"), options=RunbookOptions(overlays=(over,)))
    assert run(scenario).paths() == ["/inc/i", "/top/o"]


NEEDED = f"""
runners:
  req: {DEAD}
vars:
  who: nobody
steps:
  - req: {{"/n?who={{{{ vars.who }}}}": {{get: {{}}}}}}
    test: false
"""


def test_a_needed_runbook_is_loaded_with_the_command_line_options(tmp_path: Path) -> None:
    # runn loads a `needs:` runbook with every option it loads the given runbooks with.
    book(tmp_path, NEEDED, "need.yml")
    top = book(tmp_path, "needs:\n  n: need.yml\nsteps:\n  - req: {/t: {get: {}}}\n", "top.yml")
    over = write(tmp_path, "over.yml", "steps:\n  - req: {/o: {get: {}}}\n")
    options = RunbookOptions(
        runners=(("req", f"{ENDPOINT}/flag"),), overlays=(over,), skip_test=True
    )
    scenario = prepared(top, vars={"who": "alice"}, options=options)
    assert run(scenario).paths() == ["/flag/n?who=alice", "/flag/o", "/flag/t", "/flag/o"]


def test_host_rules_reach_a_needed_runbook(tmp_path: Path) -> None:
    need = "runners:\n  api: http://api.example.test:8080\nsteps:\n  - api: {/n: {get: {}}}\n"
    book(tmp_path, need, "need.yml")
    top = book(tmp_path, "needs:\n  n: need.yml\nsteps:\n  - test: true\n", "top.yml")
    options = RunbookOptions(host_rules=(("api.example.test", "127.0.0.1"),))
    (config,) = load_runbooks([top], options=options).runner_configs()
    assert config.base_url == "http://127.0.0.1:8080"


def test_layer_flags_reach_the_engine(tmp_path: Path) -> None:
    path = book(tmp_path, TWO_STEPS)
    plan = run_plan("loadt", str(path), "--overlay", "a.yml,b.yml", "--underlay", "c.yml")
    options = plan.load.spec.runbook_options
    assert (options.overlays, options.underlays) == (("a.yml", "b.yml"), ("c.yml",))


# -- --skip-included ------------------------------------------------------------------------------
STEP = f"runners:\n  req: {ENDPOINT}\nsteps:\n  - req: {{/x: {{get: {{}}}}}}\n"


def test_skip_included_drops_a_runbook_another_selected_one_includes(tmp_path: Path) -> None:
    for name in ("leaf.yml", "lone.yml"):
        book(tmp_path, STEP, name)
    book(tmp_path, "steps:\n  - include: leaf.yml\n", "top.yml")
    book(tmp_path, "steps:\n  - include: {steps: [{test: true}]}\n", "inline.yml")
    pattern = str(tmp_path / "*.yml")
    everything = run_plan("loadt", pattern).load.spec.runbooks
    assert [Path(p).name for p in everything] == ["inline.yml", "leaf.yml", "lone.yml", "top.yml"]
    chosen = run_plan("loadt", pattern, "--skip-included").load.spec.runbooks
    assert [Path(p).name for p in chosen] == ["inline.yml", "lone.yml", "top.yml"]
    alone = run_plan("loadt", str(tmp_path / "leaf.yml"), "--skip-included").load.spec.runbooks
    assert [Path(p).name for p in alone] == ["leaf.yml"]  # its includer is not selected


def test_skip_included_keeps_one_whose_includers_are_all_included(tmp_path: Path) -> None:
    book(tmp_path, STEP, "c.yml")
    book(tmp_path, "steps:\n  - include: c.yml\n", "b.yml")
    book(tmp_path, "steps:\n  - include: b.yml\n", "a.yml")
    paths = [str(tmp_path / name) for name in ("a.yml", "b.yml", "c.yml")]
    chosen = run_plan("loadt", *paths, "--skip-included").load.spec.runbooks
    assert [Path(p).name for p in chosen] == ["a.yml", "c.yml"]  # runn's rule, runn's order
    (tmp_path / "a.yml").write_text("steps:\n  - include: missing.yml\n")
    with pytest.raises(UsageError, match=r"cannot include 'missing\.yml'"):
        run_plan("loadt", *paths, "--skip-included")


# -- --concurrent ---------------------------------------------------------------------------------
class SlowVU(FakeVU):
    """A fake VU whose requests take a few turns of the event loop: runbooks that run side by
    side overlap, and `peak` says how many requests were in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0

    async def exchange(self, runner: Runner, request: RawRequest, step: StepStats) -> RawResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            return await super().exchange(runner, request, step)
        finally:
            self.in_flight -= 1


def three_books(tmp_path: Path, extra: str = "") -> list[Path]:
    return [
        book(tmp_path, f"{extra}runners:\n  req: {ENDPOINT}/{name}\n"
             "steps:\n  - req: {/one: {get: {}}}\n  - req: {/two: {get: {}}}\n", f"{name}.yml")
        for name in ("a", "b", "c")
    ]  # fmt: skip


@pytest.mark.parametrize(("at_once", "peak"), [(1, 1), (2, 2), (3, 3), (8, 3)])
def test_concurrent_runs_up_to_n_runbooks_of_an_iteration_at_once(
    tmp_path: Path, at_once: int, peak: int
) -> None:
    scenario = prepared(*three_books(tmp_path), options=RunbookOptions(concurrent=at_once))
    vu = run(scenario, SlowVU())
    assert isinstance(vu, SlowVU) and vu.peak == peak
    assert sorted(vu.paths()) == sorted(f"/{n}/{s}" for n in "abc" for s in ("one", "two"))


def test_concurrent_runbooks_sharing_a_concurrency_key_take_turns(tmp_path: Path) -> None:
    books = three_books(tmp_path, "concurrency: db\n")
    vu = run(prepared(*books, options=RunbookOptions(concurrent=3)), SlowVU())
    assert isinstance(vu, SlowVU) and vu.peak == 1
    assert vu.paths() == [f"/{n}/{s}" for n in "abc" for s in ("one", "two")]


def test_concurrent_runbooks_keep_their_cookies_apart(tmp_path: Path) -> None:
    runner = f"runners:\n  req:\n    endpoint: {ENDPOINT}\n    useCookie: true\n"
    first = book(tmp_path, runner + "steps:\n  - req: {/set-cookie: {get: {}}}\n"
                 "  - req: {/a: {get: {}}}\n", "first.yml")  # fmt: skip
    second = book(tmp_path, runner + "steps:\n  - req: {/b1: {get: {}}}\n"
                  "  - req: {/b2: {get: {}}}\n", "second.yml")  # fmt: skip
    vu = run(prepared(first, second, options=RunbookOptions(concurrent=2)), SlowVU())
    cookies = {request.url.path: request.headers.get("cookie") for _, request in vu.sent}
    assert vu.paths() == ["/set-cookie", "/b1", "/a", "/b2"]  # side by side
    assert cookies == {"/set-cookie": None, "/b1": None, "/a": "session=abc", "/b2": None}


def test_concurrent_failures_fail_the_iteration_and_fail_fast_cancels(tmp_path: Path) -> None:
    failing = book(tmp_path, f"runners:\n  req: {ENDPOINT}\nsteps:\n"
                   "  - req: {/status/500: {get: {}}}\n    test: current.res.status == 200\n",
                   "failing.yml")  # fmt: skip
    books = [failing, *three_books(tmp_path)]
    vu = SlowVU()
    with pytest.raises(IterationFailed):
        run(prepared(*books, options=RunbookOptions(concurrent=4)), vu)
    assert len(vu.paths()) == 7  # the others ran to their end
    vu = SlowVU()
    with pytest.raises(IterationFailed):
        run(prepared(*books, options=RunbookOptions(concurrent=4, fail_fast=True)), vu)
    assert len(vu.paths()) < 7  # cancelled once the first runbook failed


def test_concurrent_flag_takes_runns_values(tmp_path: Path) -> None:
    paths = [str(p) for p in three_books(tmp_path)]
    plan = run_plan("loadt", *paths, "--concurrent", "2")
    assert plan.load.spec.runbook_options.concurrent == 2
    assert plan.load.config.requests_per_vu == 2  # each VU keeps 2 connections
    assert (
        run_plan("loadt", *paths, "--concurrent", "off").load.spec.runbook_options.concurrent == 1
    )
    cpus = len(os.sched_getaffinity(0))
    on = run_plan("loadt", *paths, "--concurrent", "on")
    assert on.load.spec.runbook_options.concurrent == cpus
    assert on.load.config.requests_per_vu == min(cpus, 3)
    for bad, message in (("0", "1 or more"), ("lots", 'should be "on", "off" or a number')):
        with pytest.raises(UsageError, match=message):
            run_plan("loadt", *paths, "--concurrent", bad)


@pytest.mark.slow
def test_loadt_concurrent_against_the_target(target: TargetProcess) -> None:
    books = [str(EXAMPLES / "users.yml"), str(EXAMPLES / "login.yml")]
    args = ["--duration", "500ms", "--warm-up", "0s", "--max-rps", "0", "--format", "json"]
    result = loadscope("loadt", *books, *args, "--concurrent", "on",
                       env={"TARGET": target.http_url})  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    assert report["total"] == report["succeeded"] > 0 and report["failed"] == 0


# -- --http-openapi3 ------------------------------------------------------------------------------
OPENAPI = """
openapi: 3.0.3
servers:
  - url: http://api.test/v1
paths:
  /json:
    get:
      responses:
        200:  # unquoted: YAML reads a number
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
  /status/{code}:
    get:
      responses:
        2XX: {description: fine}
components:
  schemas:
    Thing:
      type: object
      required: [a, id]
      properties:
        a: {type: %s}
        list: {type: array, items: {type: integer}}
        id: {enum: [7, 8]}
"""


def openapi_run(
    tmp_path: Path, steps: str, a_type: str = "integer", vu: FakeVU | None = None, **runner: str
) -> FakeVU:
    """A runbook of `steps` checked against the document above; its endpoint ends in /v1."""
    document = write(tmp_path, "api.yml", OPENAPI % a_type)
    extra = "".join(f"\n    {key}: {value}" for key, value in runner.items())
    text = f"runners:\n  req:\n    endpoint: {ENDPOINT}/v1{extra}\nsteps:\n{steps}"
    scenario = prepared(book(tmp_path, text), options=RunbookOptions(openapi3=(("", document),)))
    return run(scenario, vu or FakeVU(server_v1))


def server_v1(request: httpx.Request) -> Answer:
    """The fake server, under /v1."""
    path = request.url.raw_path.decode().removeprefix("/v1")
    return server(request.__class__(request.method, f"http://127.0.0.1:9{path}"))


def openapi_failure(tmp_path: Path, steps: str, a_type: str = "integer") -> tuple[str, list[str]]:
    """The iteration's failure, and the paths sent."""
    vu = FakeVU(server_v1)
    with pytest.raises(IterationFailed) as caught:
        openapi_run(tmp_path, steps, a_type, vu)
    return caught.value.reason, vu.paths()


def test_openapi3_passes_what_the_document_declares(tmp_path: Path) -> None:
    vu = openapi_run(tmp_path, "  - req: {/json: {get: {}}}\n  - req: {/status/204: {get: {}}}\n")
    assert vu.paths() == ["/v1/json", "/v1/status/204"]


def test_openapi3_refuses_an_undeclared_path_or_method_before_sending(tmp_path: Path) -> None:
    reason, sent = openapi_failure(tmp_path, "  - req: {/nowhere: {get: {}}}\n")
    expected = "openapi3 validation failed: GET /v1/nowhere: no path of the document matches"
    assert (reason, sent) == (f"book:steps[0]: {expected}", [])
    reason, sent = openapi_failure(tmp_path, "  - req: {/json: {delete: {}}}\n")
    assert reason.endswith("DELETE /json: the document has no such operation") and sent == []


def test_openapi3_fails_an_undeclared_status_and_a_body_off_the_schema(tmp_path: Path) -> None:
    reason, sent = openapi_failure(tmp_path, "  - req: {/status/418: {get: {}}}\n")
    assert reason.endswith("GET /status/{code}: response status 418 is not declared")
    assert sent == ["/v1/status/418"]
    reason, _ = openapi_failure(tmp_path, "  - req: {/json: {get: {}}}\n", a_type="string")
    assert reason.endswith("GET /json: response body.a: want string, got integer")


def test_openapi3_respects_a_runners_skip_keys(tmp_path: Path) -> None:
    steps = "  - req: {/status/418: {get: {}}}\n"
    assert openapi_run(tmp_path, steps, skipValidateResponse="true").paths() == ["/v1/status/418"]
    steps = "  - req: {/nowhere: {get: {}}}\n"
    assert openapi_run(tmp_path, steps, skipValidateRequest="true").paths() == ["/v1/nowhere"]


def test_openapi3_with_a_key_checks_only_that_runner(tmp_path: Path) -> None:
    document = write(tmp_path, "api.yml", OPENAPI % "integer")
    runners = f"runners:\n  req: {ENDPOINT}\n  other: {ENDPOINT}\n"
    text = runners + "steps:\n  - other: {/x: {get: {}}}\n"
    options = RunbookOptions(openapi3=(("req", document),))
    assert run(prepared(book(tmp_path, text), options=options)).paths() == ["/x"]
    options = RunbookOptions(openapi3=(("other", document),))
    with pytest.raises(IterationFailed, match="GET /x: no path"):
        run(prepared(book(tmp_path, text), options=options))


def test_openapi3_flag_splits_an_optional_key(tmp_path: Path) -> None:
    path = book(tmp_path, TWO_STEPS)
    plan = run_plan("loadt", str(path), "--http-openapi3", "api.yml", "--http-openapi3",
                    "req:spec/api.json", "--http-openapi3", "https://h.test/api.yml")  # fmt: skip
    assert plan.load.spec.runbook_options.openapi3 == (
        ("", "api.yml"), ("req", "spec/api.json"), ("", "https://h.test/api.yml"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it: no such file"),
        ("openapi: 2.0\npaths: {}\n", "not an OpenAPI v3 document"),
        ("openapi: 3.1.0\n", "has no `paths` map"),
        ("openapi: 3.0.0\npaths: {/a: {$ref: 'other.yml#/x'}}\n", "only local refs"),
        ("openapi: 3.0.0\npaths: {/a: {$ref: '#/nothing'}}\n", "points at nothing"),
        ("openapi: [3\n", "cannot read it"),
    ],
)
def test_a_bad_openapi3_document_is_one_line_and_exit_2(
    tmp_path: Path, content: str | None, message: str
) -> None:
    document = tmp_path / "api.yml"
    if content is not None:
        document.write_text(content)
    path = book(tmp_path, TWO_STEPS)
    result = loadscope("loadt", str(path), "--http-openapi3", str(document), "--duration", "1s")
    assert result.code == 2
    line = result.error_line()
    assert line.startswith(f"loadscope: --http-openapi3: {document}: ") and message in line, line


def test_a_runner_flag_with_a_reserved_key_is_one_line(tmp_path: Path) -> None:
    path = book(tmp_path, TWO_STEPS)
    with pytest.raises(RunbookError) as caught:
        prepared(path, options=RunbookOptions(runners=(("include", ENDPOINT),)))
    assert str(caught.value) == "--runner: `include` cannot be a runner name (it is a step key)"
