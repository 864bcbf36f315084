"""The per-request log (`--log-requests FILE.sqlite`): every request of the run, one row each, in
SQLite (oha's `--db-url` is the model).

The hot path only appends a tuple to a list (`Session.request_log`). Each second the extension
swaps the list for an empty one, turns its entries into small integer rows (a request becomes a
target id in `request_targets`) and hands them to a writer process, which inserts them in one
transaction. Users query the view `requests`. Worker processes write to the same file (WAL mode,
a generous busy timeout), each with its own `worker` number.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..redact import redact_text
from ..transport import RawRequest, url_of
from ._log_writer import FRAME
from ._view import DiagnosticsExtension, PointFields, SessionPort, SessionView

COLUMNS = (  # the `requests` view: what users query
    ("start_s", "when it was sent, in seconds since the session started"),
    ("worker", "the worker process (1 when not split)"),
    ("vu", "the virtual user"),
    ("iteration", "the run-wide iteration index"),
    ("step", "the step (a runbook step, a target, the URL)"),
    ("method", ""),
    ("url", "credentials and secrets masked"),
    ("status", "NULL: no response"),
    ("error", "the error kind; NULL: none"),
    ("pool_wait_ms", "waiting for a connection"),
    ("connect_ms", "0 on a reused connection"),
    ("handshake_ms", "TLS (or QUIC) handshake; 0 on a reused or plain connection"),
    ("ttfb_ms", "from sent to the first byte of the response"),
    ("total_ms", ""),
    ("bytes", "response body bytes"),
    ("connection", "the connection's id within its worker (the ledger's)"),
    ("new_connection", "1: opened for this request, 0: reused"),
)
# What the hot path appends (engine/session/_vu.py): sent at (perf_counter), vu, iteration, step,
# request, then plain values: status, error kind, wait, connect, handshake and first-byte µs,
# total µs, body bytes, connection id, new connection (None where there was no response).
Entry = tuple[Any, ...]
FINISH_TIMEOUT_S = 120.0  # the writer's last batches, on a slow disk
Batch = tuple[list[tuple[object, ...]], list[tuple[object, ...]]]  # (new targets, rows)


def remove_request_log(path: str) -> None:
    """A fresh log for a new run: the old file and its WAL side files go."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + suffix)


class _Compactor:
    """Entries as plain integer rows, on the event loop (under 1 µs a row): requests become
    target ids, so the rows that cross to the writer process are small and cheap to pickle."""

    def __init__(self, worker: int) -> None:
        self.worker = worker
        self._ids: dict[tuple[str, str, str], int] = {}

    def compact(self, entries: Sequence[Entry], base: float) -> Batch:
        worker = self.worker
        by_request: dict[tuple[str, int], int] = {}  # alive in this batch: ids are not reused
        targets: list[tuple[object, ...]] = []
        out: list[tuple[object, ...]] = []
        append = out.append
        for sent, vu, iteration, step, request, *measured in entries:
            target = by_request.get((step, id(request)))
            if target is None:
                target = by_request[(step, id(request))] = self._target(step, request, targets)
            status, kind, wait, connect, tls, ttfb, total, size, connection, new = measured
            append((int((sent - base) * 1e6), worker, vu, iteration, target, status, kind, wait,
                    connect, tls, ttfb, total, size, connection or None, new))  # fmt: skip
        return targets, out

    def _target(self, step: str, request: RawRequest, new: list[tuple[object, ...]]) -> int:
        key = (step, request.method, redact_text(str(url_of(request))))
        target = self._ids.get(key)
        if target is None:
            target = self._ids[key] = len(self._ids) + 1
            new.append((self.worker, target, *key))
        return target


class RequestLog(DiagnosticsExtension):
    """Attach to a session before it starts; rows are in the file once it has stopped.

    A writer process inserts the batches; a sender thread feeds it, so a slow disk never blocks
    the loop.
    """

    def __init__(self, path: str, worker: int = 1) -> None:
        self.path = path
        self.worker = worker
        self.written = 0
        self.error: str | None = None
        self._compactor = _Compactor(worker)
        self._base = 0.0
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def started(self, view: SessionView, port: SessionPort) -> None:
        self._base = time.perf_counter() - view.session_elapsed()
        # A process, not a thread: its own interpreter, so no GIL shared with the event loop
        # (and a worker process, being a daemon, may start one this way).
        command = [sys.executable, "-I", str(Path(__file__).with_name("_log_writer.py")), self.path]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._sender = threading.Thread(target=self._send, daemon=True, name="loadscope-log")
        self._sender.start()
        port.take_request_log([])

    def tick(self, view: SessionView, port: SessionPort) -> PointFields:
        self._hand_over(port.take_request_log([]))
        return PointFields()

    def stopped(self, view: SessionView, port: SessionPort) -> None:
        self._hand_over(port.take_request_log(None))
        self._outbox.put(None)
        self._finish()
        if self.error is not None:
            port.log_once("request-log", self.error)

    def _hand_over(self, batch: list[tuple[Any, ...]] | None) -> None:
        if batch:
            compact = self._compactor.compact(batch, self._base)
            payload = pickle.dumps(compact, pickle.HIGHEST_PROTOCOL)
            self._outbox.put(FRAME.pack(len(payload)) + payload)

    def _send(self) -> None:
        """In a thread: the pipe's writes block when the writer is behind, never the loop."""
        assert self._process is not None and self._process.stdin is not None
        pipe = self._process.stdin
        while (payload := self._outbox.get()) is not None:
            try:
                pipe.write(payload)
                pipe.flush()
            except OSError:
                break  # the writer is gone; `_finish` says so
        with contextlib.suppress(OSError):
            pipe.close()

    def _finish(self) -> None:
        assert self._sender is not None and self._process is not None
        self._sender.join()
        self._process.stdin = None  # closed by the sender: nothing for communicate() to flush
        try:
            out, _ = self._process.communicate(timeout=FINISH_TIMEOUT_S)
            self.written, self.error = pickle.loads(out)
        except (subprocess.TimeoutExpired, pickle.UnpicklingError, EOFError, ValueError):
            self._process.kill()
            self.error = f"--log-requests {self.path}: the writer did not finish"


def read_rows(path: str, where: str = "", params: Iterable[object] = ()) -> list[sqlite3.Row]:
    """Rows of a finished log (for tests and tools)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return list(db.execute(f"SELECT * FROM requests {where}", tuple(params)))
