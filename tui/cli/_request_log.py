"""`--log-requests FILE.sqlite`: every request of the run in SQLite (see the engine's
`RequestLog`); the file is made fresh before any load, so a path that cannot be written is bad
input, not a lost log."""

from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING

from ._errors import UsageError

if TYPE_CHECKING:
    from ...engine import Session, SessionConfig


def add_request_log_option(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--log-requests",
        default=None,
        metavar="FILE.sqlite",
        help="write every request to this SQLite file (table `requests`: start offset, worker, "
        "VU, iteration, step, method, URL, status, error, the latency split, bytes, connection "
        "and whether it was new); replaced if it exists",
    )


def apply_request_log_option(config: SessionConfig, path: str | None) -> None:
    if path is None:
        return
    if path == "-":  # `-` is stdout for the report outputs; a database needs a file
        raise UsageError("--log-requests -: a SQLite file cannot go to stdout; name a file")
    import sqlite3  # only with --log-requests

    from ...engine.diagnostics import open_log, remove_request_log

    try:
        remove_request_log(path)
        with contextlib.closing(open_log(path)):
            pass
    except (OSError, sqlite3.Error) as exc:
        raise UsageError(f"--log-requests {path}: {exc}") from None
    config.request_log = path


def attach_request_log(session: Session) -> None:
    """In the process that runs `session` (each worker its own, into the one file)."""
    path = session.config.request_log
    if path is not None:
        from ...engine.diagnostics import RequestLog  # its writer process, SQLite, pickle

        session.add_extension(RequestLog(path, worker=session.crowd.numbering[0] + 1))
