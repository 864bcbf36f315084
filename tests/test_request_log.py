"""`--log-requests FILE.sqlite`: a row per request, written in batches off the hot path; with
workers every worker's rows land in the one file. The built-in target's counters are the truth."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from loadscope.engine import ReuseMode, Session, SessionConfig, UrlScenario
from loadscope.engine.diagnostics import REQUEST_LOG_COLUMNS, RequestLog, read_rows
from loadscope.engine.target import TargetProcess

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
