"""The per-request log (`--log-requests FILE.sqlite`): every request of the run, one row each, in
SQLite (oha's `--db-url` is the model).

The hot path only appends a tuple to a list (`Session.request_log`). Each second the extension
swaps the list for an empty one and hands the full one to a writer thread, which turns entries
into rows and inserts them in one transaction. Worker processes write to the same file (WAL mode,
a generous busy timeout), each with its own `worker` number.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..redact import redact_text
from ._view import DiagnosticsExtension, SessionView

COLUMNS = (
    ("start_s", "REAL NOT NULL"),  # when it was sent, in seconds since the session started
    ("worker", "INTEGER NOT NULL"),
    ("vu", "INTEGER NOT NULL"),
    ("iteration", "INTEGER NOT NULL"),
    ("step", "TEXT NOT NULL"),
    ("method", "TEXT NOT NULL"),
    ("url", "TEXT NOT NULL"),  # credentials and secrets masked
    ("status", "INTEGER"),  # NULL: no response
    ("error", "TEXT"),  # the error kind; NULL: none
    ("pool_wait_ms", "REAL"),
    ("connect_ms", "REAL"),  # 0 on a reused connection
    ("handshake_ms", "REAL"),  # TLS (or QUIC) handshake; 0 on a reused or plain connection
    ("ttfb_ms", "REAL"),
    ("total_ms", "REAL NOT NULL"),
    ("bytes", "INTEGER"),  # response body bytes
    ("connection", "INTEGER"),  # the connection's id in its worker (the ledger's)
    ("new_connection", "INTEGER"),  # 1: opened for this request, 0: reused
)
CREATE = f"CREATE TABLE IF NOT EXISTS requests ({', '.join(f'{n} {t}' for n, t in COLUMNS)})"
INSERT = f"INSERT INTO requests VALUES ({', '.join('?' for _ in COLUMNS)})"
BUSY_TIMEOUT_MS = 60_000

# What the hot path appends: (sent at perf_counter, vu, iteration, step, request, raw or None,
# error kind or None, total µs).
Entry = tuple[Any, ...]


def remove_request_log(path: str) -> None:
    """A fresh log for a new run: the old file and its WAL side files go."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + suffix)


def open_log(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(CREATE)
    return db


def rows(entries: Sequence[Entry], base: float, worker: int) -> list[tuple[object, ...]]:
    """Entries as table rows (in the writer thread)."""
    out: list[tuple[object, ...]] = []
    urls: dict[int, tuple[str, str]] = {}  # a prebuilt request is redacted once per batch
    for sent, vu, iteration, step, request, raw, kind, total_us in entries:
        named = urls.get(id(request))
        if named is None:
            named = urls[id(request)] = (request.method, redact_text(str(request.url)))
        start = round(sent - base, 6)
        if raw is None:
            out.append((start, worker, vu, iteration, step, *named, None, kind,
                        None, None, None, None, total_us / 1000, None, None, None))  # fmt: skip
            continue
        new = raw.new_connection
        out.append((
            start, worker, vu, iteration, step, *named, raw.status, kind,
            raw.wait_us / 1000, raw.connect_us / 1000 if new else 0.0,
            raw.tls_us / 1000 if new else 0.0, raw.ttfb_us / 1000, total_us / 1000,
            raw.body_size, raw.connection_id or None, int(new),
        ))  # fmt: skip
    return out


class _Writer(threading.Thread):
    """Inserts batches in the background; one transaction a batch."""

    def __init__(self, path: str, worker: int) -> None:
        super().__init__(name="loadscope-request-log", daemon=True)
        self.path = path
        self.worker = worker
        self.batches: queue.SimpleQueue[tuple[list[Entry], float] | None] = queue.SimpleQueue()
        self.written = 0
        self.error: str | None = None

    def run(self) -> None:
        try:
            db = open_log(self.path)
        except sqlite3.Error as exc:
            self.error = f"--log-requests {self.path}: {exc}"
            return
        try:
            while (item := self.batches.get()) is not None:
                self._write(db, *item)
        finally:
            db.close()

    def _write(self, db: sqlite3.Connection, entries: list[Entry], base: float) -> None:
        if self.error is not None:
            return
        try:
            with db:
                db.execute("BEGIN")
                db.executemany(INSERT, rows(entries, base, self.worker))
            self.written += len(entries)
        except sqlite3.Error as exc:
            self.error = f"--log-requests {self.path}: {exc}"


class RequestLog(DiagnosticsExtension):
    """Attach to a session before it starts; rows are in the file once it has stopped."""

    def __init__(self, path: str, worker: int = 1) -> None:
        self.path = path
        self.worker = worker
        self._writer = _Writer(path, worker)
        self._base = 0.0
        self._session: SessionView | None = None

    @property
    def written(self) -> int:
        return self._writer.written

    @property
    def error(self) -> str | None:
        return self._writer.error

    def started(self, session: SessionView) -> None:
        self._base = time.perf_counter() - session.session_elapsed()
        self._session = session
        session.request_log = []
        self._writer.start()

    def tick(self, session: SessionView) -> dict[str, object]:
        self._hand_over(session)
        return {}

    def stopped(self, session: SessionView) -> None:
        self._hand_over(session)
        session.request_log = None
        self._writer.batches.put(None)
        self._writer.join()
        if self._writer.error is not None:
            session.log_once("request-log", self._writer.error)

    def _hand_over(self, session: SessionView) -> None:
        batch = session.request_log
        if batch:
            session.request_log = []
            self._writer.batches.put((batch, self._base))


def read_rows(path: str, where: str = "", params: Iterable[object] = ()) -> list[sqlite3.Row]:
    """Rows of a finished log (for tests and tools)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return list(db.execute(f"SELECT * FROM requests {where}", tuple(params)))
