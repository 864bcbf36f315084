"""`--unix-socket PATH`: every request over the built-in target's unix socket, whatever the URL's
host; the Host header comes from the URL. The target's per-listener counters are the truth."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadscope.engine import HttpVersion, Session, SessionConfig, UrlScenario
from loadscope.engine.diagnostics import unix_stream_counts
from loadscope.engine.target import TargetOptions, TargetProcess

from .cli_support import loadscope

URL = "http://api.example.test:8080"  # never resolved: the socket stands in for it


@pytest.fixture(scope="module")
def unix_target() -> Iterator[tuple[TargetProcess, str]]:
    with tempfile.TemporaryDirectory(prefix="loadscope-unix-") as directory:
        path = str(Path(directory) / "target.sock")
        with TargetProcess(TargetOptions(unix_socket=path)) as server:
            yield server, path


def config(path: str, **overrides: object) -> SessionConfig:
    values: dict[str, object] = {"concurrency": 3, "max_iterations": 30, "unix_socket": path}
    values.update(overrides)
    return SessionConfig(**values)  # type: ignore[arg-type]


async def test_every_request_goes_over_the_socket(unix_target: tuple[TargetProcess, str]) -> None:
    target, path = unix_target
    served, over_tcp = target.requests("unix"), target.requests("http")
    accepted = target.accepted("unix")
    session = Session(config(path), UrlScenario(URL + "/json"))
    await asyncio.wait_for(session.run(), 30)
    snap = session.snapshot()
    assert snap.errors_total == 0
    assert snap.requests_total == target.requests("unix") - served == 30
    assert target.requests("http") == over_tcp
    assert snap.connections.opened_total == target.accepted("unix") - accepted == 3
    assert snap.unix_socket == path and snap.proxy is None
    assert session.runners["url"].dialled() is None  # no TCP address for the kernel view


async def test_the_host_header_comes_from_the_url(unix_target: tuple[TargetProcess, str]) -> None:
    _, path = unix_target
    session = Session(config(path), UrlScenario(URL))
    runner = session.runners["url"]
    try:
        response = await runner.client.get(URL + "/host")
    finally:
        await runner.aclose()
    assert response.json() == {"host": "api.example.test:8080"}


async def test_h2c_over_the_socket_multiplexes(unix_target: tuple[TargetProcess, str]) -> None:
    target, path = unix_target
    served, accepted = target.requests("unix"), target.accepted("unix")
    session = Session(config(path, http_version=HttpVersion.HTTP2), UrlScenario(URL))
    await asyncio.wait_for(session.run(), 30)
    snap = session.snapshot()
    assert dict(snap.http_versions) == {"HTTP/2": 30}
    assert target.requests("unix") - served == 30
    assert snap.connections.opened_total == target.accepted("unix") - accepted == 1


async def test_the_kernel_view_counts_unix_stream_sockets(
    unix_target: tuple[TargetProcess, str],
) -> None:
    target, path = unix_target
    # An earlier test's connections may still be closing on the target's side: start from none.
    assert await target.wait_until_async(lambda t: unix_stream_counts(path).established == 0, 10)
    session = Session(config(path, concurrency=4, max_iterations=None), UrlScenario(URL))
    await session.start()
    try:
        assert await target.wait_until_async(lambda t: t.open_connections("unix") >= 4, 10)
        assert unix_stream_counts(path).established == 4
    finally:
        await session.shutdown()
    assert await target.wait_until_async(lambda t: unix_stream_counts(path).established == 0, 10)


@pytest.mark.slow
def test_run_reports_the_socket_and_the_kernel_row(unix_target: tuple[TargetProcess, str]) -> None:
    target, path = unix_target
    served = target.requests("unix")
    result = loadscope(
        "run", URL + "/json", "--unix-socket", path, "-c", "2", "-d", "2s", "--format", "json"
    )
    report = result.json()
    assert report["unix_socket"] == path
    assert report["errors_total"] == 0
    assert report["requests_total"] == target.requests("unix") - served > 0
    assert report["connections_opened"] == 2
    assert [label for label, _ in report["kernel"]["targets"]] == [f"unix:{path}"]


def test_a_path_that_is_no_socket_is_bad_input(tmp_path: Path) -> None:
    plain = tmp_path / "file"
    plain.write_text("x")
    result = loadscope("run", URL, "--unix-socket", str(plain), "-d", "1s")
    assert result.code == 2
    assert result.error_line() == f"loadscope: --unix-socket {plain}: not a socket"
