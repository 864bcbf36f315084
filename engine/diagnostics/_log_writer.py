"""The request log's writer process, run as a script (`python -I _log_writer.py PATH WORKER`)
so it starts on the standard library alone: framed batches on stdin, a transaction each, until
stdin closes; then (rows written, error) pickled on stdout. The schema lives here too.

A batch is its new targets and error kinds (pickled), then its rows as packed by
`_request_rows.ROW`, whose absent values SQLite turns into NULL (`NULLIF`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sqlite3
import struct
import sys
from typing import BinaryIO

FRAME = struct.Struct("!II")  # a batch: the length of its pickled ids, then of its rows
# A row, as the hot path packs it (`_request_rows`): start µs, vu, iteration, target, status,
# error, pool wait, connect, handshake, first byte and total µs, body bytes, connection id, new
# connection. Absent values: -1, or 0 for the ids. Defined here: this script runs on the
# standard library alone.
ROW = struct.Struct("<qiqiiiqqqqqqqb")
BUSY_TIMEOUT_MS = 60_000
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS request_targets (worker INTEGER NOT NULL, id INTEGER NOT NULL, "
    "step TEXT NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL, PRIMARY KEY (worker, id))",
    "CREATE TABLE IF NOT EXISTS request_rows (start_us INTEGER NOT NULL, worker INTEGER NOT "
    "NULL, vu INTEGER NOT NULL, iteration INTEGER NOT NULL, target INTEGER NOT NULL, status "
    "INTEGER, error TEXT, wait_us INTEGER, connect_us INTEGER, handshake_us INTEGER, ttfb_us "
    "INTEGER, total_us INTEGER NOT NULL, bytes INTEGER, connection INTEGER, new_connection "
    "INTEGER)",
    "CREATE TABLE IF NOT EXISTS request_errors (worker INTEGER NOT NULL, id INTEGER NOT NULL, "
    "kind TEXT NOT NULL, PRIMARY KEY (worker, id))",
    "CREATE VIEW IF NOT EXISTS requests AS SELECT r.start_us / 1e6 AS start_s, r.worker, r.vu, "
    "r.iteration, t.step, t.method, t.url, r.status, r.error, r.wait_us / 1000.0 AS "
    "pool_wait_ms, r.connect_us / 1000.0 AS connect_ms, r.handshake_us / 1000.0 AS "
    "handshake_ms, r.ttfb_us / 1000.0 AS ttfb_ms, r.total_us / 1000.0 AS total_ms, r.bytes, "
    "r.connection, r.new_connection FROM request_rows r JOIN request_targets t "
    "ON t.worker = r.worker AND t.id = r.target",
)
INSERT_ROWS = (
    "INSERT INTO request_rows VALUES (?1, {worker}, ?2, ?3, ?4, NULLIF(?5, -1), CASE ?6 WHEN 0 "
    "THEN NULL ELSE (SELECT kind FROM request_errors WHERE worker = {worker} AND id = ?6) END, "
    "NULLIF(?7, -1), NULLIF(?8, -1), NULLIF(?9, -1), NULLIF(?10, -1), ?11, NULLIF(?12, -1), "
    "NULLIF(?13, 0), NULLIF(?14, -1))"
)
INSERT_TARGETS = "INSERT OR REPLACE INTO request_targets VALUES ({worker}, ?, ?, ?, ?)"
INSERT_ERRORS = "INSERT OR REPLACE INTO request_errors VALUES ({worker}, ?, ?)"


def frame_batch(
    rows: bytes | bytearray, targets: list[tuple[int, str, str, str]], errors: list[tuple[int, str]]
) -> bytes:
    """One batch as the writer reads it: its new targets and error kinds, then its rows."""
    ids = pickle.dumps((targets, errors), pickle.HIGHEST_PROTOCOL)
    return FRAME.pack(len(ids), len(rows)) + ids + bytes(rows)


def open_log(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for statement in SCHEMA:
        db.execute(statement)
    return db


def write_batches(source: BinaryIO, path: str, worker: int) -> tuple[int, str | None]:
    """The writer process's loop (see `_log_writer`): a transaction per framed batch until the
    stream ends; returns (rows written, error)."""
    written, error = 0, None
    try:
        db: sqlite3.Connection | None = open_log(path)
    except sqlite3.Error as exc:
        db, error = None, f"--log-requests {path}: {exc}"
    while (head := source.read(FRAME.size)) and len(head) == FRAME.size:
        ids_size, rows_size = FRAME.unpack(head)
        (targets, errors), rows = pickle.loads(source.read(ids_size)), source.read(rows_size)
        if db is None or error is not None:
            continue
        try:
            with db:
                db.execute("BEGIN")
                db.executemany(INSERT_TARGETS.format(worker=worker), targets)
                db.executemany(INSERT_ERRORS.format(worker=worker), errors)
                db.executemany(INSERT_ROWS.format(worker=worker), ROW.iter_unpack(rows))
            written += len(rows) // ROW.size
        except sqlite3.Error as exc:
            error = f"--log-requests {path}: {exc}"
    if db is not None:
        db.close()
    return written, error


def leave_the_engines_core() -> None:
    """A pinned engine (`--workers`, or taskset) passes its one core on to this process: run
    anywhere instead, and at a lower priority, so the inserts take the CPU the load leaves idle
    (batches wait in the pipe meanwhile, and the last ones are written when the run ends)."""
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
    with contextlib.suppress(OSError):
        os.nice(10)


def main() -> None:
    leave_the_engines_core()
    written, error = write_batches(sys.stdin.buffer, sys.argv[1], int(sys.argv[2]))
    sys.stdout.buffer.write(pickle.dumps((written, error)))


if __name__ == "__main__":
    main()
