"""`--log-requests FILE.sqlite`: a row per request, written in batches off the hot path; with
workers every worker's rows land in the one file. The built-in target's counters are the truth."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from loadscope.engine import ReuseMode, Session, SessionConfig, UrlScenario
from loadscope.engine.diagnostics import REQUEST_LOG_COLUMNS, RequestLog, RequestRows, read_rows
from loadscope.engine.diagnostics._log_writer import frame_batch, write_batches
from loadscope.engine.redact import MASK, learn_secret
from loadscope.engine.target import TargetProcess
from loadscope.engine.transport import Origin, RawRequest, RawResponse

from .cli_support import loadscope


async def logged_run(path: Path, url: str, **config: object) -> Session:
    values: dict[str, object] = {"concurrency": 3, "max_iterations": 60, **config}
    session = Session(SessionConfig(**values), UrlScenario(url))  # type: ignore[arg-type]
    log = RequestLog(str(path))
    session.add_extension(log)
    await asyncio.wait_for(session.run(), 30)
    assert log.error is None and log.written == session.snapshot().requests_total
    return session


async def test_every_request_is_a_row(target: TargetProcess, tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    served = target.requests()
    session = await logged_run(path, target.http_url + "/json")
    snap = session.snapshot()
    rows = read_rows(str(path), "ORDER BY iteration")
    assert len(rows) == snap.requests_total == target.requests() - served == 60
    assert [row["iteration"] for row in rows] == list(range(60))
    assert {row["vu"] for row in rows} == {1, 2, 3} and {row["worker"] for row in rows} == {1}
    assert {(row["step"], row["method"], row["url"], row["status"]) for row in rows} == {
        ("GET /json", "GET", target.http_url + "/json", 200)
    }
    assert sum(row["new_connection"] for row in rows) == snap.connections.opened_total == 3
    assert len({row["connection"] for row in rows}) == 3
    assert all(row["error"] is None and row["bytes"] > 0 for row in rows)
    assert all(row["total_ms"] >= row["ttfb_ms"] >= 0 for row in rows)
    assert all(row["connect_ms"] > 0 for row in rows if row["new_connection"])
    assert all(row["connect_ms"] == 0 for row in rows if not row["new_connection"])
    starts = [row["start_s"] for row in rows]
    assert all(0 <= start < 30 for start in starts)
    assert list(rows[0].keys()) == [name for name, _ in REQUEST_LOG_COLUMNS]


async def test_each_new_connection_is_marked(target: TargetProcess, tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    await logged_run(path, target.http_url, reuse_mode=ReuseMode.NONE, max_iterations=20)
    rows = read_rows(str(path))
    assert len(rows) == 20 == sum(row["new_connection"] for row in rows)
    assert len({row["connection"] for row in rows}) == 20


async def test_failed_requests_are_rows_with_their_error_kind(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    session = await logged_run(path, "http://127.0.0.1:9/x", max_iterations=5, concurrency=1)
    rows = read_rows(str(path))
    assert len(rows) == session.snapshot().errors_total == 5
    assert {(row["status"], row["error"], row["connection"]) for row in rows} == {
        (None, "connect_refused", None)
    }


async def test_credentials_in_the_url_are_masked(target: TargetProcess, tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    url = target.http_url.replace("http://", "http://alice:s3cret@") + "/json"
    await logged_run(path, url, max_iterations=3, concurrency=1)
    urls = {row["url"] for row in read_rows(str(path))}
    assert len(urls) == 1 and "s3cret" not in urls.pop()


@pytest.mark.slow
def test_workers_write_into_the_one_file(target: TargetProcess, tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    path.write_text("an old file is replaced")
    served = target.requests()
    report = loadscope(
        "run", target.http_url + "/json", "-c", "4", "--workers", "2", "--iterations", "200",
        "--log-requests", str(path), "--format", "json",
    ).json()  # fmt: skip
    with sqlite3.connect(path) as db:
        by_worker = dict(db.execute("SELECT worker, count(*) FROM requests GROUP BY worker"))
        connections = db.execute("SELECT count(DISTINCT worker || ':' || connection) FROM requests")
        distinct = connections.fetchone()[0]
    assert by_worker == {1: 100, 2: 100}
    assert report["requests_total"] == target.requests() - served == 200
    assert distinct == report["connections_opened"]


def test_a_log_that_cannot_be_written_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "no-such-folder" / "x.sqlite"
    result = loadscope("run", "http://127.0.0.1:9/", "--log-requests", str(path))
    assert result.code == 2
    assert result.error_line().startswith(f"loadscope: --log-requests {path}: ")


def test_packed_rows_read_back_with_their_nulls_targets_and_error_kinds(tmp_path: Path) -> None:
    """The hot path's packed rows through the writer's loop, in-process: absent values are NULL,
    requests become targets, error kinds text; a secret learnt during the run is masked in the
    URLs of the batches after."""
    origin = Origin("http", "127.0.0.1", 8080)
    secret = RawRequest("GET", origin, b"127.0.0.1:8080", b"/a?token=hunter2", [])
    plain = RawRequest("POST", origin, b"127.0.0.1:8080", b"/b", [])
    response = RawResponse(201, [], b"body", b"HTTP/1.1")
    response.wait_us, response.ttfb_us, response.connection_id = 5, 700, 9
    response.new_connection = True
    rows = RequestRows(base=100.0)
    vu = _Vu(id=4, iteration=12)
    rows.response(100.5, vu, "first", secret, response, 900)
    rows.failure(101.0, vu, "second", plain, "timeout", 3_000)
    first = frame_batch(*rows.take())
    learn_secret("hunter2")
    rows.failure(101.25, vu, "second", plain, "peer_closed", 40)
    rows.response(101.5, vu, "first", secret, response, 800)
    path = str(tmp_path / "log.sqlite")
    assert write_batches(io.BytesIO(first + frame_batch(*rows.take())), path, worker=2) == (4, None)
    got = [tuple(row) for row in read_rows(path, "ORDER BY start_s")]
    common = (2, 4, 12)
    url_a, url_b = "http://127.0.0.1:8080/a?token=", "http://127.0.0.1:8080/b"
    assert got == [
        (0.5, *common, "first", "GET", url_a + "hunter2", 201, None,
         0.005, 0.0, 0.0, 0.7, 0.9, 4, 9, 1),
        (1.0, *common, "second", "POST", url_b, None, "timeout",
         None, None, None, None, 3.0, None, None, None),
        (1.25, *common, "second", "POST", url_b, None, "peer_closed",
         None, None, None, None, 0.04, None, None, None),
        (1.5, *common, "first", "GET", url_a + MASK, 201, None,
         0.005, 0.0, 0.0, 0.7, 0.8, 4, 9, 1),
    ]  # fmt: skip


@dataclass
class _Vu:
    id: int
    iteration: int
