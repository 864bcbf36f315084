"""Running compiled runbooks against an in-process fake server: requests, semantics, failures.

No sockets: a fake virtual user answers each request from a handler, so every byte the engine
would send can be checked.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadscope.engine import IterationFailed, RequestFailed, Session, SessionConfig
from loadscope.engine.diagnostics._ledger import ConnectionLedger
from loadscope.engine.metrics._metrics import StepStats
from loadscope.engine.runbook import RunbookScenario, load_runbooks
from loadscope.engine.session._vu import VirtualUser
from loadscope.engine.session.scenario import UrlScenario
from loadscope.engine.target import TargetProcess
from loadscope.engine.transport import RawRequest, RawResponse, Runner, to_httpx
from loadscope.engine.transport._serialize import h1_bytes

ENDPOINT = "http://127.0.0.1:9"
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
JSON = [(b"Content-Type", b"application/json")]


def echo(request: httpx.Request) -> Answer:
    body = request.content.decode("utf-8", "replace")
    payload = {
        "method": request.method,
        "path": request.url.raw_path.decode(),
        "headers": [[k.decode(), v.decode()] for k, v in request.headers.raw],
        "body": body,
    }
    return 200, JSON, json.dumps(payload).encode()


def server(request: httpx.Request) -> Answer:
    path = request.url.path
    if path.startswith("/status/"):
        return int(path.rsplit("/", 1)[1]), [], b""
    if path == "/json":
        return 200, [(b"content-type", b"application/json; charset=utf-8"), (b"x-multi", b"1"),
                     (b"X-MULTI", b"2")], b'{"a": 1, "list": [1, 2], "id": 7}'  # fmt: skip
    if path == "/text":
        return 200, [(b"Content-Type", b"text/plain")], b'{"not": "parsed"}'
    if path == "/gzip":
        return 200, [*JSON, (b"Content-Encoding", b"gzip")], gzip.compress(b'{"zipped": true}')
    if path == "/set-cookie":
        return 200, [(b"Set-Cookie", b"session=abc; Path=/"),
                     (b"Set-Cookie", b"gone=1; Max-Age=-1")], b""  # fmt: skip
    if path == "/redirect":
        return 302, [(b"Location", b"/echo?from=redirect")], b""
    if path == "/see-other":
        return 303, [(b"Location", b"/echo")], b""
    if path == "/counter":
        return 200, JSON, json.dumps({"n": len(request.url.query)}).encode()
    return echo(request)


class FakeVU(VirtualUser):
    """A real virtual user whose requests are answered by `handler` instead of a socket."""

    def __init__(self, handler: Callable[[httpx.Request], Answer] = server) -> None:
        super().__init__(Session(SessionConfig(), UrlScenario("http://127.0.0.1:9/")), 1)
        self.handler = handler
        # What the engine sent, as httpx requests (one per engine request, so a request the
        # engine sends again is the same object here too), and the engine's own request of each.
        self.sent: list[tuple[str, httpx.Request]] = []
        self.raw: dict[int, RawRequest] = {}
        self._views: dict[RawRequest, httpx.Request] = {}

    async def exchange(self, runner: Runner, request: RawRequest, step: StepStats) -> RawResponse:
        h1_bytes(request)  # it must serialize
        view = self._views.get(request)
        if view is None:
            view = self._views[request] = to_httpx(request)
            self.raw[id(view)] = request
        self.sent.append((step.name, view))
        step.requests += 1
        status, headers, body = self.handler(view)
        if status == 599:
            raise RequestFailed(step.name, "connect_refused", "connection refused")
        return RawResponse(status, headers, body, b"HTTP/1.1")

    def paths(self) -> list[str]:
        return [request.url.raw_path.decode() for _, request in self.sent]


def book(tmp_path: Path, text: str, name: str = "book.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def prepared(*paths: Path, **kwargs: Any) -> RunbookScenario:
    scenario = load_runbooks(list(paths), **kwargs)
    config = SessionConfig()
    runners = {c.name: Runner(c, config, ConnectionLedger()) for c in scenario.runner_configs()}
    steps = {name: StepStats(name, i) for i, name in enumerate(scenario.step_names())}
    scenario.prepare(runners, steps)
    return scenario


def run(scenario: RunbookScenario, vu: FakeVU | None = None, iterations: int = 1) -> FakeVU:
    vu = vu or FakeVU()

    async def go() -> None:
        for index in range(iterations):
            vu.iteration = index
            vu.cookies = httpx.Cookies()
            await scenario.run_iteration(vu)  # type: ignore[arg-type]

    asyncio.run(go())
    return vu


def failure(scenario: RunbookScenario, vu: FakeVU | None = None) -> str:
    with pytest.raises((IterationFailed, RequestFailed)) as caught:
        run(scenario, vu)
    return caught.value.reason  # type: ignore[union-attr]


def one_step(
    tmp_path: Path, step: str, *, vars: str = "{}", runner: str = ENDPOINT
) -> RunbookScenario:
    text = (
        f"runners:\n  req: {runner}\nvars: {vars}\nsteps:\n  s:\n"
        + textwrap.indent(textwrap.dedent(step).strip("\n"), "    ")
        + "\n"
    )
    return prepared(book(tmp_path, text))


def wire(vu: FakeVU, request: httpx.Request) -> bytes:
    return h1_bytes(vu.raw[id(request)])


# -- requests on the wire -------------------------------------------------------------------------
def test_a_static_request_is_built_once(tmp_path: Path) -> None:
    scenario = one_step(tmp_path, "req: {/json: {get: {body: null}}}")
    vu = run(scenario, iterations=3)
    first = vu.sent[0][1]
    assert all(request is first for _, request in vu.sent)
    assert wire(vu, first) == (
        b"GET /json HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAccept: */*\r\n"
        b"Connection: keep-alive\r\nUser-Agent: loadscope/0.1\r\n"
        b"Accept-Encoding: gzip, deflate\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("endpoint", "path", "expected"),
    [
        (ENDPOINT, "/users/1", "/users/1"),
        (ENDPOINT + "/", "/users/1", "/users/1"),
        (ENDPOINT + "/api/v1", "/users/1", "/api/v1/users/1"),
        (ENDPOINT + "/api/v1/", "users/1/", "/api/v1/users/1/"),
        (ENDPOINT + "/api?key=k", "/users?page=2", "/api/users?key=k&page=2"),
        (ENDPOINT + "/api", "/a/../b/./c", "/api/b/c"),
        (ENDPOINT, "/", "/"),
        (ENDPOINT, "?q=1", "/?q=1"),
        (ENDPOINT, "/a b/é", "/a%20b/%C3%A9"),
        (ENDPOINT, "/p?x=a b", "/p?x=a%20b"),
    ],
)
def test_paths_join_the_endpoint(tmp_path: Path, endpoint: str, path: str, expected: str) -> None:
    for template in (path, path + '{{ "" }}'):  # static, and rendered every iteration
        scenario = one_step(tmp_path, f"req: {{'{template}': {{get: {{}}}}}}", runner=endpoint)
        assert run(scenario).paths() == [expected]


def test_templates_render_paths_headers_and_bodies(tmp_path: Path) -> None:
    scenario = one_step(
        tmp_path,
        """
        req:
          /users/{{ vars.id + 1 }}?at={{ runn.i }}&flag={{ vars.flag }}&none={{ nil }}:
            PoSt:
              headers:
                X-Static: fixed
                X-Multi: [a, b]
                X-Id: "id-{{ vars.id }}"
                X-List: "{{ vars.tags }}"
                X-{{ vars.name }}: dynamic name
                User-Agent: custom
              body:
                application/json:
                  id: "{{ vars.id }}"
                  tags: "{{ vars.tags }}"
                  label: "#{{ vars.id }} of {{ vars.tags }}"
                  float: "{{ vars.ratio }}"
                  nested: {"{{ vars.name }}": [1, "{{ runn.i * 2 }}"]}
                  text: Grüße
        """,
        vars="{id: 41, flag: true, tags: [x, y], name: Bob, ratio: 1.5}",
    )
    vu = run(scenario, iterations=2)
    request = vu.sent[1][1]
    assert request.method == "POST"
    assert request.url.raw_path == b"/users/42?at=1&flag=true&none="
    headers = request.headers.raw
    assert (b"X-Static", b"fixed") in headers
    assert [v for k, v in headers if k == b"X-Multi"] == [b"a", b"b"]
    assert (b"X-Id", b"id-41") in headers
    assert [v for k, v in headers if k == b"X-List"] == [b"x", b"y"]
    assert (b"X-Bob", b"dynamic name") in headers
    assert [v for k, v in headers if k.lower() == b"user-agent"] == [b"custom"]
    assert (b"Content-Type", b"application/json") in headers
    body = request.content
    assert json.loads(body) == {
        "id": 41,
        "tags": ["x", "y"],
        "label": '#41 of ["x","y"]',
        "float": 1.5,
        "nested": {"Bob": [1, 2]},
        "text": "Grüße",
    }
    assert body.startswith(b'{"id":41,"tags":["x","y"]')  # compact, in the runbook's order
    assert (b"Content-Length", str(len(body)).encode()) in headers


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            "application/x-www-form-urlencoded: {name: bob, n: 1, b: true, t: 'a&b=c d', "
            "list: [x, y], m: {k: v}}",
            b"application/x-www-form-urlencoded",
            b"name=bob&n=1&b=true&t=a%26b%3Dc+d&list.0=x&list.1=y&m.k=v",
        ),
        ("text/plain: 'hello {{ 1 + 1 }}'", b"text/plain", b"hello 2"),
        ("text/plain: 42", b"text/plain", b"42"),
        ("application/xml: '<a>{{ vars.v }}</a>'", b"application/xml", b"<a>v</a>"),
        ("application/octet-stream: [104, 105]", b"application/octet-stream", b"hi"),
        (
            "application/octet-stream: {filename: data.bin}",
            b"application/octet-stream",
            b"\x00\x01",
        ),
        ("application/vnd.api+json: {a: [1]}", b"application/vnd.api+json", b'{"a":[1]}'),
        (
            "'application/json; charset=utf-8': ['{{ vars.v }}']",
            b"application/json; charset=utf-8",
            b'["v"]',
        ),
    ],
)
def test_bodies(tmp_path: Path, body: str, content_type: bytes, expected: bytes) -> None:
    (tmp_path / "data.bin").write_bytes(b"\x00\x01")
    scenario = one_step(tmp_path, f"req: {{/echo: {{put: {{body: {{{body}}}}}}}}}", vars="{v: v}")
    request = run(scenario).sent[0][1]
    assert request.content == expected
    assert request.headers["content-type"].encode() == content_type


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        # runn writes a whole-value template's string into the YAML and parses it again,
        # quoting numbers and true/false: they stay strings...
        ("'5'", b'"5"'),
        ("'true'", b'"true"'),
        ("'1e3'", b'"1e3"'),
        ("'hello'", b'"hello"'),
        ("'{a: 1}'", b'"{a: 1}"'),  # not JSON: quoted
        # ...but not empty text, `null`, nor JSON array/object text: those come back as values
        ("''", b"null"),
        ("'null'", b"null"),
        ("'[1, 2]'", b"[1,2]"),
        ('\'{"a": {"b": true}}\'', b'{"a":{"b":true}}'),
    ],
)
def test_a_whole_value_template_of_a_string_is_read_as_runn_reads_it(
    tmp_path: Path, value: str, sent: bytes
) -> None:
    step = "req: {/x: {post: {body: {application/json: {v: '{{ vars.s }}', w: 'x{{ vars.s }}'}}}}}"
    scenario = one_step(tmp_path, step, vars=f"{{s: {value}}}")
    body = run(scenario).sent[0][1].content
    assert body.startswith(b'{"v":' + sent + b',"w":"x')


def test_multipart_fields_and_files(tmp_path: Path) -> None:
    (tmp_path / "upload.txt").write_text("file content")
    scenario = one_step(
        tmp_path,
        """
        req:
          /form:
            post:
              body:
                multipart/form-data:
                  name: carol
                  count: 3
                  file: upload.txt
                  many: [a, "{{ vars.v }}"]
        """,
        vars="{v: b}",
    )
    request = run(scenario).sent[0][1]
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=")[1].encode()
    parts = request.content.split(b"--" + boundary)
    assert parts[0] == b"" and parts[-1] == b"--\r\n"
    assert b'name="name"\r\n\r\ncarol\r\n' in parts[1]
    assert b'name="count"\r\n\r\n3\r\n' in parts[2]
    assert (
        b'name="file"; filename="upload.txt"\r\nContent-Type: text/plain\r\n\r\nfile content'
        in parts[3]
    )
    assert b"\r\n\r\na\r\n" in parts[4] and b"\r\n\r\nb\r\n" in parts[5]


def test_get_without_body_and_null_bodies(tmp_path: Path) -> None:
    for step in (
        "req: {/e: {get: {}}}",
        "req: {/e: {get: null}}",
        "req: {/e: {delete: {body: null}}}",
        "req: {/e: {get: {body: {application/json: null}}}}",
    ):
        request = run(one_step(tmp_path, step)).sent[0][1]
        assert request.content == b""
        assert "content-length" not in request.headers
        assert "content-type" not in request.headers


def test_extra_headers_apply_unless_the_step_sets_them(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        steps:
          a: {{req: {{/a: {{get: {{headers: {{X-Team: mine}}}}}}}}}}
          b: {{req: {{"/b/{{{{ 1 }}}}": {{get: {{}}}}}}}}
        """)  # fmt: skip
    scenario = load_runbooks([path])
    scenario.add_headers([("X-Team", "cli"), ("Authorization", "Bearer t")])
    config = SessionConfig()
    runners = {c.name: Runner(c, config, ConnectionLedger()) for c in scenario.runner_configs()}
    scenario.prepare(runners, {n: StepStats(n, i) for i, n in enumerate(scenario.step_names())})
    first, second = (request for _, request in run(scenario).sent)
    assert first.headers.get_list("x-team") == ["mine"]
    assert first.headers["authorization"] == "Bearer t"
    assert second.headers.get_list("x-team") == ["cli"]


def test_mixed_templates_are_read_again_as_yaml_as_runn_does(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        vars: {{n: 12345}}
        steps:
          s:
            req:
              /echo:
                post:
                  body:
                    application/json:
                      number: '{{{{ vars.n }}}}9'
                      quoted: '"9{{{{ vars.n }}}}"'
                      text: 'id-{{{{ vars.n }}}}'
                      zero: '0{{{{ vars.n }}}}'  # as YAML types 012345 anywhere in a runbook
                      flag: '{{{{ vars.n > 1 }}}}'
                      whole: '{{{{ vars.n }}}}'
            bind:
              got: current.res.body.body
        """)  # fmt: skip
    vu = run(prepared(path))
    sent = json.loads(vu.sent[0][1].content)
    assert sent == {"number": 123459, "quoted": "912345", "text": "id-12345",
                    "zero": 12345, "flag": True, "whole": 12345}  # fmt: skip


def test_templated_requests_are_reused_when_they_render_the_same(tmp_path: Path) -> None:
    scenario = one_step(tmp_path, "req: {'/x/{{ runn.i % 2 }}': {get: {}}}")
    vu = run(scenario, iterations=4)
    requests = [request for _, request in vu.sent]
    assert [r.url.raw_path for r in requests] == [b"/x/0", b"/x/1", b"/x/0", b"/x/1"]
    assert requests[0] is requests[2] and requests[1] is requests[3]
    assert requests[0] is not requests[1]


def test_step_results_are_recorded_only_if_an_expression_reads_them(tmp_path: Path) -> None:
    unread = one_step(tmp_path, "req: {'/x/{{ runn.i }}': {get: {}}}\nbind: {n: runn.i}")
    assert not unread.books[0].record_results and not unread.books[0].needs_view
    assert run(unread, iterations=3).paths() == ["/x/0", "/x/1", "/x/2"]
    for reader in ("test: current.res.status == 200", "bind: {s: previous}", "dump: steps"):
        read = one_step(tmp_path, f"req: {{/echo: {{get: {{}}}}}}\n{reader}")
        assert read.books[0].record_results and read.books[0].needs_view, reader


def test_cookies_are_kept_when_no_expression_reads_results(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        steps:
          set: {{req: {{/set-cookie: {{get: {{}}}}}}}}
          with_jar: {{req: {{/echo: {{get: {{useCookie: true}}}}}}}}
        """)  # fmt: skip
    scenario = prepared(path)
    assert not scenario.books[0].record_results and scenario.books[0].needs_view
    assert run(scenario).sent[1][1].headers["cookie"] == "session=abc"


def test_runn_reads_as_a_map_and_member_by_member(tmp_path: Path) -> None:
    scenario = one_step(
        tmp_path,
        "req: {'/x/{{ runn.i }}/{{ runn[\"i\"] % 2 }}/{{ runn.i % -3 }}': {get: {}}}\n"
        "test: |\n  runn == {'i': runn.i} && runn?.i == runn.i && runn.missing == nil",
    )
    vu = FakeVU()
    vu.iteration = 5
    run_once = scenario.run_iteration(vu)  # type: ignore[arg-type]
    asyncio.run(run_once)
    assert vu.paths() == ["/x/5/1/2"]


# -- responses as expressions see them ------------------------------------------------------------
def test_response_fields(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        steps:
          json:
            req: {{/json: {{get: {{}}}}}}
            test: |
              current.res.status == 200
              && current.res.body.a == 1 && current.res.body.list == [1, 2]
              && current.res.headers["Content-Type"] == ["application/json; charset=utf-8"]
              && current.res.headers["X-Multi"] == ["1", "2"]
              && current.res.rawBody contains '"id": 7'
              && len(current.res.cookies) == 0
          text:
            req: {{/text: {{get: {{}}}}}}
            test: |
              current.res.body == nil && current.res.rawBody == '{{"not": "parsed"}}'
          gzip:
            req: {{/gzip: {{get: {{}}}}}}
            test: current.res.body.zipped == true
          status:
            req: {{/status/404: {{get: {{}}}}}}
            test: current.res.status == 404 && current.res.rawBody == ""
          everything:
            test: len(steps.json.res) == 5 && "body" in steps.json.res && steps.json.res.nope == nil
        """)  # fmt: skip
    run(prepared(path))


def test_non_2xx_is_not_a_failure_unless_tested(tmp_path: Path) -> None:
    run(one_step(tmp_path, "req: {/status/500: {get: {}}}"))
    scenario = one_step(tmp_path, "req: {/status/500: {get: {}}}\ntest: current.res.status == 200")
    assert failure(scenario) == "book:s: test failed: current.res.status == 200: left 500"


def test_redirects_are_followed_unless_the_runner_says_not(tmp_path: Path) -> None:
    scenario = one_step(tmp_path, "req: {/redirect: {get: {}}}\ntest: current.res.status == 200")
    assert run(scenario).paths() == ["/redirect", "/echo?from=redirect"]
    see_other = one_step(
        tmp_path,
        "req: {/see-other: {post: {body: {text/plain: x}}}}\n"
        "test: current.res.body.method == 'GET'",
    )
    assert [r.method for _, r in run(see_other).sent] == ["POST", "GET"]
    scenario = one_step(
        tmp_path,
        "req: {/redirect: {get: {}}}\ntest: current.res.status == 302 "
        "&& current.res.headers.Location[0] == '/echo?from=redirect'",
        runner="{endpoint: http://127.0.0.1:9, notFollowRedirect: true}",
    )
    assert run(scenario).paths() == ["/redirect"]


# -- bind, test, if, force ------------------------------------------------------------------------
def test_bind_forms(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        vars: {{key: k2}}
        steps:
          - req: {{/json: {{get: {{}}}}}}
            bind:
              id: current.res.body.id
              pair: [current.res.body.a, "'literal'", 3]
              doc: {{a: current.res.body.a, nested: {{b: current.res.status}}}}
              'list[]': current.res.body.a
              'map[vars.key]': 1
              'map["k1"]': 0
              'deep[vars.key][]': nil
          - bind:
              'list[]': id
              'map[vars.key]': 2
              list2: steps[0].res.body.list
          - bind:
              list2: "[3]"
              count: 1
          - test: |
              id == 7 && pair == [1, "literal", 3] && doc == {{a: 1, nested: {{b: 200}}}}
              && list == [1, 7] && map == {{k1: 0, k2: 2}} && deep == {{k2: [nil]}}
              && list2 == [1, 2, 3] && count == 1
        """)  # fmt: skip
    run(prepared(path))


def test_binds_do_not_leak_between_iterations(tmp_path: Path) -> None:
    scenario = one_step(
        tmp_path, "req: {/json: {get: {}}}\nbind: {'seen[]': runn.i}\ntest: seen == [runn.i]"
    )
    run(scenario, iterations=3)


def test_failure_reasons(tmp_path: Path) -> None:
    assert failure(
        one_step(
            tmp_path,
            "req: {/json: {get: {}}}\n"
            "test: |\n  current.res.status == 200\n  && current.res.body.a == 2",
        )
    ) == (
        "book:s: test failed: current.res.status == 200 && current.res.body.a == 2"
        " (current.res.body.a == 2: left 1)"
    )
    assert failure(one_step(tmp_path, "req: {/a: {get: {}}}\ntest: false")) == (
        "book:s: test failed: false"
    )
    assert failure(
        one_step(tmp_path, "req: {/json: {get: {}}}\ntest: current.res.body.a.b.c == 1")
    ) == ("book:s: test failed: cannot fetch b from int")
    assert failure(one_step(tmp_path, "req: {/json: {get: {}}}\ntest: current.res.status")) == (
        "book:s: test failed: current.res.status: value 200"
    )
    assert failure(one_step(tmp_path, "req: {'/x/{{ current.res.x }}': {get: {}}}")) == (
        "book:s: request failed: cannot fetch res from nil"
    )
    assert failure(
        one_step(tmp_path, "req: {/json: {get: {}}}\nbind: {x: current.res.body.a + 'x'}")
    ) == ("book:s: bind x failed: invalid operation: int + string")
    assert failure(one_step(tmp_path, "req: {/status/599: {get: {}}}")) == "book:s: connect_refused"


def test_a_failed_step_skips_the_rest_unless_forced(tmp_path: Path) -> None:
    steps = """
        steps:
          - req: {/status/1: {get: {}}}
            test: false
          - req: {/status/2: {get: {}}}
          - req: {/status/3: {get: {}}}
            force: true
          - test: steps[1].outcome == "skipped" && steps[0].outcome == "failure"
            force: true
        """
    vu = FakeVU()
    plain = prepared(book(tmp_path, f"runners: {{req: {ENDPOINT}}}\n" + textwrap.dedent(steps)))
    assert failure(plain, vu) == "book:steps[0]: test failed: false"
    assert vu.paths() == ["/status/1", "/status/3"]
    vu = FakeVU()
    forced = prepared(
        book(
            tmp_path,
            f"force: true\nrunners: {{req: {ENDPOINT}}}\n"
            + textwrap.dedent(steps).replace('== "skipped"', '== "success"'),
        )
    )
    assert failure(forced, vu) == "book:steps[0]: test failed: false"
    assert vu.paths() == ["/status/1", "/status/2", "/status/3"]


def test_if_skips_a_step(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        vars: {{on: false}}
        steps:
          a:
            if: vars.on
            req: {{/a: {{get: {{}}}}}}
          b:
            if: "'not a bool'"
            req: {{/b: {{get: {{}}}}}}
          c:
            if: runn.i == 0 && steps.a.outcome == "skipped"
            req: {{/c: {{get: {{}}}}}}
          d:
            if: true
            test: steps.c.res.status == 200 && previous.res.status == 200 && current == nil
        """)  # fmt: skip
    assert run(prepared(path)).paths() == ["/c"]


def test_skip_test(tmp_path: Path) -> None:
    path = book(tmp_path, f"skipTest: true\nruners: 1\nrunners: {{req: {ENDPOINT}}}\n"
                "steps:\n  - test: false\n  - req: {/a: {get: {}}}\n")  # fmt: skip
    assert run(prepared(path)).paths() == ["/a"]


def test_current_and_previous(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        steps:
          - req: {{/status/201: {{get: {{}}}}}}
          - req: {{"/echo/{{{{ previous.res.status }}}}": {{get: {{}}}}}}
            test: previous.res.status == 201 && current.res.body.path == "/echo/201"
          - test: previous.res.body.path == "/echo/201" && current == nil
          - bind: {{x: 1}}
            test: current.outcome == "success" && previous.outcome == "success"
          - test: steps[0].res.status == 201 && len(steps) == 4  # this step has no result yet
        """)  # fmt: skip
    run(prepared(path))


def test_runn_i_counts_iterations_and_env_is_readable(tmp_path: Path) -> None:
    scenario = one_step(tmp_path, "req: {'/n/{{ runn.i }}/{{ env.WHO }}': {get: {}}}")
    scenario = prepared(tmp_path / "book.yml", env={"WHO": "me"})
    assert run(scenario, iterations=3).paths() == ["/n/0/me", "/n/1/me", "/n/2/me"]


# -- loops ----------------------------------------------------------------------------------------
def test_counted_loop(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        vars: {{n: 3}}
        steps:
          - loop: 2
            req: {{"/a/{{{{ i }}}}": {{get: {{}}}}}}
            bind: {{'seen[]': i}}
          - loop: vars.n
            req: {{"/b/{{{{ i }}}}": {{get: {{}}}}}}
          - loop: {{count: 0}}
            req: {{/never: {{get: {{}}}}}}
          - test: |
              seen == [0, 1] && steps[1].res.body.path == "/b/2"
              && steps[2].outcome == "skipped"
        """)  # fmt: skip
    assert run(prepared(path)).paths() == ["/a/0", "/a/1", "/b/0", "/b/1", "/b/2"]


def test_loop_until(tmp_path: Path) -> None:
    scenario = one_step(
        tmp_path,
        """
        loop: {count: 5, until: current.res.status == 200, interval: 1ms}
        req: {"/status/{{ i < 2 ? 503 : 200 }}": {get: {}}}
        test: current.res.status == 200 || i < 2
        """,
    )
    assert run(scenario).paths() == ["/status/503", "/status/503", "/status/200"]
    never = one_step(tmp_path, "loop: {count: 3, until: 'current.res.status == 200'}\n"
                     "req: {/status/503: {get: {}}}")  # fmt: skip
    vu = FakeVU()
    assert failure(never, vu) == "book:s: loop failed: (current.res.status == 200) is not true"
    assert len(vu.sent) == 3


def test_loop_attempt_failures(tmp_path: Path) -> None:
    """runn (0.140 on) retries a failed attempt of a step's loop, a false test as a failed
    request, and judges the step by its last attempt."""
    counted = one_step(tmp_path, "loop: 3\nreq: {'/x/{{ i }}': {get: {}}}\ntest: i == 1")
    vu = FakeVU()
    assert failure(counted, vu) == "book:s: test failed: i == 1: left 2"
    assert vu.paths() == ["/x/0", "/x/1", "/x/2"]  # every attempt ran; the last one failed
    recovered = one_step(tmp_path, "loop: 3\nreq: {'/x/{{ i }}': {get: {}}}\ntest: i == 2")
    assert run(recovered).paths() == ["/x/0", "/x/1", "/x/2"]
    failed_request = one_step(
        tmp_path, "loop: 3\nreq: {'/status/{{ i == 0 ? 599 : 200 }}': {get: {}}}"
    )
    assert run(failed_request).paths() == ["/status/599", "/status/200", "/status/200"]
    last_failed = one_step(
        tmp_path, "loop: 3\nreq: {'/status/{{ i == 2 ? 599 : 200 }}': {get: {}}}"
    )
    vu = FakeVU()
    assert failure(last_failed, vu) == "book:s: connect_refused"
    assert vu.paths() == ["/status/200", "/status/200", "/status/599"]


def test_a_false_test_beside_until_is_retried(tmp_path: Path) -> None:
    """runn's README warns that `test` beside `loop.until` fails the step at the first false
    attempt; runn's code does that no more (0.140 on): the attempt is retried, and the step
    fails only if the attempt where `until` held failed its test."""
    retried = one_step(
        tmp_path, "loop: {count: 3, until: 'i == 1'}\nreq: {'/x/{{ i }}': {get: {}}}\ntest: i == 1"
    )
    assert run(retried).paths() == ["/x/0", "/x/1"]
    held_on_a_failure = one_step(
        tmp_path, "loop: {count: 3, until: 'i == 1'}\nreq: {'/x/{{ i }}': {get: {}}}\ntest: i == 0"
    )
    vu = FakeVU()
    assert failure(held_on_a_failure, vu) == "book:s: test failed: i == 0: left 1"
    assert vu.paths() == ["/x/0", "/x/1"]
    broken = one_step(tmp_path, "loop: 3\nreq: {/x: {get: {}}}\ntest: current.res.body.no.x")
    vu = FakeVU()
    assert failure(broken, vu) == "book:s: test failed: cannot fetch x from nil"
    assert len(vu.sent) == 1  # an expression that fails stops the loop at once


def test_loop_backoff_waits(tmp_path: Path) -> None:
    scenario = one_step(
        tmp_path,
        "loop: {count: 3, until: 'false', minInterval: 20ms, maxInterval: 30ms}\n"
        "req: {/a: {get: {}}}",
    )
    started = time.perf_counter()
    failure(scenario)
    assert 0.045 <= time.perf_counter() - started < 1.0  # 20 ms, then 30 ms (capped)


def test_root_loop_and_interval(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        interval: 5ms
        loop: {{count: 5, until: "outcome == 'success'"}}
        steps:
          - bind: {{idx: "idx == nil ? 0 : idx + 1"}}
          - req: {{"/r/{{{{ idx }}}}": {{get: {{}}}}}}
            test: idx == 2
        """)  # fmt: skip
    started = time.perf_counter()
    assert run(prepared(path)).paths() == ["/r/0", "/r/1", "/r/2"]
    assert time.perf_counter() - started >= 0.015


def test_the_runbook_if(tmp_path: Path) -> None:
    path = book(tmp_path, f"if: runn.i % 2 == 1\nrunners: {{req: {ENDPOINT}}}\n"
                "steps:\n  - req: {'/i/{{ runn.i }}': {get: {}}}\n")  # fmt: skip
    assert run(prepared(path), iterations=4).paths() == ["/i/1", "/i/3"]


# -- include --------------------------------------------------------------------------------------
def test_include(tmp_path: Path) -> None:
    book(tmp_path, """
        vars: {user: nobody, role: guest}
        steps:
          login:
            req:
              /login/{{ vars.user }}/{{ vars.role }}:
                get:
                  headers: {X-Parent: "{{ parent.vars.team }}"}
            bind: {token: "'t-' + vars.user"}
            test: current.res.status == 200
        """, "child.yml")  # fmt: skip
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        vars: {{team: red, users: [ann, ben]}}
        steps:
          one:
            include:
              path: child.yml
              vars: {{user: "{{{{ vars.users[runn.i] }}}}", role: admin}}
          two:
            include: {{path: child.yml}}
          check:
            test: |
              steps.one.token == "t-" + vars.users[runn.i] && steps.one.vars.role == "admin"
              && steps.two.vars.user == "nobody" && steps.one.steps.login.res.status == 200
        """)  # fmt: skip
    scenario = prepared(path)
    assert scenario.step_names() == ["book:one>child:login", "book:two>child:login"]
    vu = run(scenario, iterations=2)
    assert vu.paths() == [
        "/login/ann/admin",
        "/login/nobody/guest",
        "/login/ben/admin",
        "/login/nobody/guest",
    ]
    assert [name for name, _ in vu.sent][:2] == ["book:one>child:login", "book:two>child:login"]
    assert vu.sent[0][1].headers["x-parent"] == "red"


def test_include_failures_and_skip_test(tmp_path: Path) -> None:
    book(
        tmp_path,
        "steps:\n  bad:\n    req: {/status/500: {get: {}}}\n    test: current.res.status == 200\n",
        "child.yml",
    )
    path = book(tmp_path, f"runners: {{req: {ENDPOINT}}}\nsteps:\n  inc:\n    include: child.yml\n"
                "  after:\n    req: {/after: {get: {}}}\n")  # fmt: skip
    vu = FakeVU()
    assert failure(prepared(path), vu) == (
        "book:inc>child:bad: test failed: current.res.status == 200: left 500"
    )
    assert vu.paths() == ["/status/500"]
    path.write_text(
        path.read_text().replace("include: child.yml", "include: {path: child.yml, skipTest: true}")
    )
    assert run(prepared(path)).paths() == ["/status/500", "/after"]


# -- cookies, dump, several runbooks --------------------------------------------------------------
def test_cookies(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        steps:
          set:
            req: {{/set-cookie: {{get: {{}}}}}}
            test: |
              current.res.cookies.session.Value == "abc" && current.res.cookies.session.Path == "/"
              && current.res.cookies.session.Domain == "127.0.0.1:9"
              && current.res.cookies.session.Raw == "session=abc; Path=/"
          plain:
            req: {{/echo: {{get: {{}}}}}}
            test: |
              cookies["127.0.0.1:9"].session.Value == "abc" && !("gone" in cookies["127.0.0.1:9"])
          with_jar:
            req: {{/echo: {{get: {{useCookie: true}}}}}}
        """)  # fmt: skip
    vu = run(prepared(path))
    assert "cookie" not in vu.sent[1][1].headers
    assert vu.sent[2][1].headers["cookie"] == "session=abc"


def test_dump_goes_to_the_sink(tmp_path: Path) -> None:
    scenario = one_step(tmp_path, "req: {/json: {get: {}}}\ndump: current.res.body.list")
    got: list[tuple[str, Any]] = []
    scenario.dump_sink = lambda step, value: got.append((step, value))
    run(scenario)
    assert got == [("book:s", [1, 2])]
    scenario.dump_sink = None
    run(scenario)


def test_several_runbooks_run_in_order_each_with_its_own_state(tmp_path: Path) -> None:
    head = f"runners: {{req: {ENDPOINT}}}\nsteps:\n"
    one = book(
        tmp_path,
        head + "  a:\n    req: {/set-cookie: {get: {useCookie: true}}}\n    bind: {x: 1}\n",
        "one.yml",
    )
    two = book(
        tmp_path,
        head + "  b:\n    req: {/echo: {get: {useCookie: true}}}\n    test: len(steps) == 1\n",
        "two.yml",
    )
    vu = run(prepared(one, two))
    assert [name for name, _ in vu.sent] == ["one:a", "two:b"]
    assert "cookie" not in vu.sent[1][1].headers  # each runbook's pass starts with no cookies


# -- runn's own step semantics, in the shape of its testdata --------------------------------------
def test_loop_semantics_in_the_shape_of_runns_loop_book(tmp_path: Path) -> None:
    served = 0

    def counter(request: httpx.Request) -> Answer:
        nonlocal served
        served += 1
        return 200, [], str(served - 1).encode()  # 0, 1, 2 ... as runn's test server counts

    path = book(tmp_path, f"""
        desc: loops, as runn's testdata exercises them
        runners:
          req: {ENDPOINT}
        vars:
          word: hi
        steps:
          - desc: a counted loop
            req: {{/count: {{get: {{body: {{application/json: null}}}}}}}}
            loop: {{count: 3}}
          - test: steps[0].res.rawBody contains "2"  # 0, 1, 2
          - desc: the short form
            req: {{/count: {{get: {{body: null}}}}}}
            loop: 2
            bind:
              last: current.res
              'all[]': current.res
          - test: |
              // 3, 4
              steps[2].res.rawBody contains "4"
              && all[0].rawBody contains "3" && all[1].rawBody contains "4"
              && last.rawBody == "4"
          - desc: retry until
            req: {{/count: {{get: {{body: null}}}}}}
            loop:
              count: 10
              until: 'current.res.rawBody contains "6" && i != nil'  # 5, 6
          - desc: retry with an interval
            req: {{/count: {{get: {{body: null}}}}}}
            loop:
              count: 5
              interval: 0.001
              until: 'current.res.rawBody contains "8"'  # 7, 8
          - desc: the default count is three
            req: {{/count: {{get: {{body: null}}}}}}
            loop:
              until: 'current.res.rawBody contains "10"'  # 9, 10
          - desc: a count from an expression
            req: {{/count: {{get: {{body: null}}}}}}
            loop: len(vars.word)
            bind:
              'by_word[vars.word]': current.res
          - test: |
              steps[7].res.rawBody contains "12"
              && by_word['hi'].rawBody contains "12"
          - test: |
              steps[0] != null && steps[1] != null && steps[2] != null && steps[3] != null
              && steps[4] != null && steps[5] != null && steps[6] != null && steps[7] != null
              && steps[8] != null
          - desc: a zero count skips the step
            req: {{/never: {{get: {{body: null}}}}}}
            loop: 0
        """)  # fmt: skip
    vu = run(prepared(path), FakeVU(counter))
    assert served == 13
    assert "/never" not in vu.paths()


def test_escaped_delimiters_in_the_shape_of_runns_book(tmp_path: Path) -> None:
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        vars: {{who: world}}
        steps:
          -
            req:
              /post:
                post:
                  body:
                    application/json:
                      greeting: |
                        Hello {{{{ vars.who }}}} \\{{\\{{ name \\}}\\}}
            test: |
              current.res.status == 200
              && current.res.body.body contains 'Hello world {{{{'
        """)  # fmt: skip
    vu = run(prepared(path))
    assert json.loads(vu.sent[0][1].content) == {"greeting": "Hello world {{ name }}\n"}


def test_a_step_runs_request_dump_bind_test_in_that_order(tmp_path: Path) -> None:
    scenario = one_step(
        tmp_path,
        """
        req: {/json: {get: {}}}
        dump: "[token, current.res.body.id]"
        bind: {token: current.res.body.id}
        test: token == 7 && current.res.body.id == 7
        """,
    )
    seen: list[Any] = []
    scenario.dump_sink = lambda _step, value: seen.append(value)
    run(scenario)
    assert seen == [[None, 7]]  # the dump ran after the request and before the bind


def test_deferred_steps_of_an_include_run_after_the_parents_last_step(tmp_path: Path) -> None:
    book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        steps:
          - req: {{/child/work: {{get: {{}}}}}}
          - defer: true
            req: {{/child/cleanup: {{get: {{}}}}}}
        """, "child.yml")  # fmt: skip
    path = book(tmp_path, f"""
        runners: {{req: {ENDPOINT}}}
        steps:
          - defer: true
            req: {{/parent/cleanup: {{get: {{}}}}}}
          - include: child.yml
          - req: {{/parent/last: {{get: {{}}}}}}
        """)  # fmt: skip
    assert run(prepared(path)).paths() == [
        "/child/work", "/parent/last", "/child/cleanup", "/parent/cleanup"
    ]  # fmt: skip


async def _garbage_after_failing_iterations(book: Path, iterations: int) -> int:
    """Objects in reference cycles after `iterations` failing iterations (the collector off)."""
    session = Session(
        SessionConfig(concurrency=2, max_iterations=iterations), load_runbooks([book])
    )
    gc.collect()
    gc.disable()
    try:
        await asyncio.wait_for(session.run(), 30)
        assert session.snapshot().iterations_failed == iterations
        return gc.collect()
    finally:
        gc.enable()


async def test_failing_iterations_leave_no_reference_cycles(
    target: TargetProcess, tmp_path: Path
) -> None:
    """Freed by reference counting alone: cycles left per failed iteration piled up for the
    collector, whose pass then stalled the event loop (seen as latency) under many failures."""
    book = tmp_path / "fails.yml"
    book.write_text(
        f"runners:\n  req: {target.http_url}\nsteps:\n  first:\n    req:\n      /json:\n"
        "        get: {}\n    test: current.res.status == 201\n"
    )
    few = await _garbage_after_failing_iterations(book, 100)
    many = await _garbage_after_failing_iterations(book, 400)
    assert many - few < 100  # 21 objects per failed iteration before: 6,300 more
