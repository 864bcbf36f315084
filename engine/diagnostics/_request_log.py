"""The per-request log (`--log-requests FILE.sqlite`): every request of the run, one row each, in
SQLite (oha's `--db-url` is the model).

The hot path packs a row of integers into a buffer (`Session.request_log`, a `RequestRows`; a
request becomes a target id in `request_targets`). Each second the extension takes the buffer
and hands it to a writer process, which inserts its rows in one transaction. Users query the
view `requests`. Worker processes write to the same file (WAL mode, a generous busy timeout),
each with its own `worker` number.
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
from collections.abc import Iterable
from pathlib import Path

from ._log_writer import frame_batch
from ._request_rows import RequestRows
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
FINISH_TIMEOUT_S = 120.0  # the writer's last batches, on a slow disk


def remove_request_log(path: str) -> None:
    """A fresh log for a new run: the old file and its WAL side files go."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + suffix)


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
        self._rows: RequestRows | None = None
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def started(self, view: SessionView, port: SessionPort) -> None:
        self._rows = RequestRows(base=time.perf_counter() - view.session_elapsed())
        # A process, not a thread: its own interpreter, so no GIL shared with the event loop
        # (and a worker process, being a daemon, may start one this way).
        writer = str(Path(__file__).with_name("_log_writer.py"))
        command = [sys.executable, "-I", writer, self.path, str(self.worker)]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._sender = threading.Thread(target=self._send, daemon=True, name="loadscope-log")
        self._sender.start()
        port.log_requests(self._rows)

    def tick(self, view: SessionView, port: SessionPort) -> PointFields:
        self._hand_over()
        return PointFields()

    def stopped(self, view: SessionView, port: SessionPort) -> None:
        port.log_requests(None)
        self._hand_over()
        self._outbox.put(None)
        self._finish()
        if self.error is not None:
            port.log_once("request-log", self.error)

    def _hand_over(self) -> None:
        assert self._rows is not None
        rows, targets, errors = self._rows.take()
        if rows:
            self._outbox.put(frame_batch(rows, targets, errors))

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
