"""Target lists (`loadscope run --targets FILE|-`): vegeta's HTTP and JSON formats, round-robin
and random order, a row per target, stdin read as it comes, bad lines exit 2 before any load."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from loadscope.engine import Session, SessionConfig
from loadscope.engine.session import (
    TargetFeed,
    TargetListError,
    TargetListScenario,
    parse_targets,
)
from loadscope.engine.target import TargetProcess

from .cli_support import COMMAND, REPO, environment, loadscope


def parse(text: str, folder: Path | None = None) -> list[tuple[str, str, tuple, bytes | None]]:
    targets = parse_targets(text.splitlines(keepends=True), "list", folder)
    return [(t.method, t.url, t.headers, t.body) for t in targets]


# -- the formats --------------------------------------------------------------------------------
def test_http_format_with_headers_body_files_comments_and_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "user.json").write_bytes(b'{"name": "a"}')
    text = (
        "# users\n"
        "GET http://127.0.0.1:1/users\n"
        "Accept: application/json\n"
        "X-Trace: 1\n"
        "\n\n"
        "post http://127.0.0.1:1/users\n"
        "Content-Type: application/json\n"
        "@user.json\n"
        "DELETE http://127.0.0.1:1/users/1\n"
        "GET http://127.0.0.1:1/\n"
    )
    url = "http://127.0.0.1:1/users"
    json_type = (("Content-Type", "application/json"),)
    assert parse(text, tmp_path) == [
        ("GET", url, (("Accept", "application/json"), ("X-Trace", "1")), None),
        ("POST", url, json_type, b'{"name": "a"}'),
        ("DELETE", url + "/1", (), None),
        ("GET", "http://127.0.0.1:1/", (), None),
    ]


def test_json_lines_with_header_lists_and_a_base64_body() -> None:
    body = base64.b64encode(b"hello").decode()
    echo = "http://127.0.0.1:1/echo"
    lines = [
        {"method": "POST", "url": echo, "header": {"A": ["1", "2"]}, "body": body},
        {"url": "http://127.0.0.1:1/"},
    ]
    assert parse("\n".join(json.dumps(line) for line in lines) + "\n") == [
        ("POST", "http://127.0.0.1:1/echo", (("A", "1"), ("A", "2")), b"hello"),
        ("GET", "http://127.0.0.1:1/", (), None),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GET http://127.0.0.1:1/\nnot a header\n", "list:2: expected a 'Name: value' header"),
        ("\n\nGET\n", "list:3: expected 'METHOD URL'"),
        ("GET ftp://h/x\n", "list:1: not an http(s) URL"),
        ("G(T http://h/\n", "list:1: not an HTTP method"),
        ("GET http://h:70000/\n", "list:1: invalid URL"),
        ("GET http://h/\nBad Name: 1\n", "list:2: invalid header name"),
        ("GET http://h/\n@missing.json\n", "list:2: cannot read body file missing.json"),
        ('{"url": "http://h/"}\n{"url": 1}\n', 'list:2: "url" is missing or not a string'),
        ('{"url": "http://h/"}\n{nope\n', "list:2: not JSON"),
        ('{"url": "http://h/", "body": "%%%"}\n', 'list:1: "body" is not valid base64'),
        ('{"url": "http://h/", "headers": {}}\n', "list:1: unknown key 'headers'"),
        ("# only a comment\n\n", "list: no targets"),
    ],
)
def test_a_bad_line_is_named_by_its_number(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TargetListError) as caught:
        parse(text, tmp_path)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


# -- the scenario against the built-in target ----------------------------------------------------
def listed(target: TargetProcess) -> str:
    return (
        f"GET {target.http_url}/json\n\n"
        f"POST {target.http_url}/echo\nContent-Type: text/plain\n\n"
        f"GET {target.http_url}/\n"
    )


async def run_list(feed: TargetFeed, order: str = "round-robin", **config: object) -> Session:
    values: dict[str, object] = {"concurrency": 3, "max_iterations": 30, **config}
    session = Session(SessionConfig(**values), TargetListScenario(feed, order, seed=7))  # type: ignore[arg-type]
    await asyncio.wait_for(session.run(), 30)
    return session


async def test_round_robin_gives_each_target_its_share_and_row(target: TargetProcess) -> None:
    served = target.requests()
    feed = TargetFeed("list", parse_targets(listed(target).splitlines(), "list"))
    snap = (await run_list(feed)).snapshot()
    assert {step.name: step.requests for step in snap.steps} == {
        f"GET {target.http_url}/json": 10,
        f"POST {target.http_url}/echo": 10,
        f"GET {target.http_url}/": 10,
    }
    assert snap.errors_total == 0 and target.requests() - served == 30


async def test_random_order_spreads_iterations_over_the_targets(target: TargetProcess) -> None:
    feed = TargetFeed("list", parse_targets(listed(target).splitlines(), "list"))
    snap = (await run_list(feed, "random", max_iterations=300)).snapshot()
    counts = [step.requests for step in snap.steps]
    assert sum(counts) == 300 and len(counts) == 3 and min(counts) > 0
    assert counts != [100, 100, 100]  # seed 7 does not land on a perfect rotation


async def test_a_stream_is_read_as_it_comes(target: TargetProcess) -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, f"GET {target.http_url}/json\n\n".encode())
        feed = TargetFeed.from_stream(read_end, "stdin", quiet=0.05)  # paused: starts with one
        assert len(feed.targets) == 1
        session = Session(
            SessionConfig(concurrency=1, duration=None), TargetListScenario(feed, seed=1)
        )
        running = asyncio.create_task(session.run())
        os.write(write_end, f"GET {target.http_url}/\n\n".encode())
        later = f"GET {target.http_url}/"
        assert await wait_for(lambda: _requests(session, later) > 0)
        os.write(write_end, b"GET http://127.0.0.1:1/\nbad line\n")
        await asyncio.wait_for(running, 15)  # the bad line stopped the run
        assert session.state.value == "stopped"
    finally:
        os.close(write_end)
        os.close(read_end)
    assert feed.error == "stdin:6: expected a 'Name: value' header, '@file' or a blank line, " \
        "got 'bad line'"  # fmt: skip


def _requests(session: Session, name: str) -> int:
    return next((s.requests for s in session.snapshot().steps if s.name == name), 0)


async def wait_for(condition: object, timeout: float = 15.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


# -- the command line ---------------------------------------------------------------------------
def run_cli(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], input=stdin, capture_output=True, text=True, env=environment(),
        cwd=REPO, timeout=60,
    )  # fmt: skip


@pytest.mark.slow
def test_run_targets_file_reports_a_row_per_target(target: TargetProcess, tmp_path: Path) -> None:
    path = tmp_path / "targets.txt"
    path.write_text(listed(target))
    served = target.requests()
    result = loadscope(
        "run", "--targets", str(path), "--iterations", "30", "-c", "3", "--format", "json"
    )
    report = result.json()
    assert {name: row["requests"] for name, row in report["steps"].items()} == {
        f"GET {target.http_url}/json": 10,
        f"POST {target.http_url}/echo": 10,
        f"GET {target.http_url}/": 10,
    }
    assert target.requests() - served == 30


@pytest.mark.slow
def test_run_targets_from_stdin_as_json_lines(target: TargetProcess) -> None:
    lines = "".join(
        json.dumps({"method": "GET", "url": f"{target.http_url}{path}"}) + "\n"
        for path in ("/json", "/")
    )
    served = target.requests()
    done = run_cli("run", "--targets", "-", "--iterations", "8", "--format", "json", stdin=lines)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [row["requests"] for row in report["steps"].values()] == [4, 4]
    assert target.requests() - served == 8


@pytest.mark.slow
def test_a_bad_line_stops_the_run_before_any_load(target: TargetProcess) -> None:
    served, accepted = target.requests(), target.accepted()
    text = f"GET {target.http_url}/\n\nGET {target.http_url}/json\nX-Ok: 1\nnonsense\n"
    done = run_cli("run", "--targets", "-", "-d", "2s", stdin=text)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "loadscope: stdin:5: expected a 'Name: value' header, '@file' or a blank line, "
        "got 'nonsense'"
    )
    assert target.requests() == served and target.accepted() == accepted


def test_targets_and_a_url_together_are_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("GET http://127.0.0.1:9/\n")
    result = loadscope("run", "http://127.0.0.1:9/", "--targets", str(path))
    assert result.code == 2
    assert result.error_line() == "loadscope: give --targets or a URL or runbooks, not both"


def test_the_command_line_offers_the_engines_target_orders() -> None:
    from loadscope.engine.session import TARGET_ORDERS as ENGINE_ORDERS
    from loadscope.tui.cli._target_lists import TARGET_ORDERS

    assert tuple(TARGET_ORDERS) == tuple(ENGINE_ORDERS)
