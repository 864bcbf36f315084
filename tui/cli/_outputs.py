"""Report files: the JSON report (written atomically) and the per-second CSV timeline."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from loadscope.engine import TimelinePoint
from loadscope.engine.metrics.report import timeline_entry

from ._errors import UsageError

CSV_FIELDS = (
    "t",
    "rps",
    "errors",
    "concurrency",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "open",
    "active",
    "idle",
    "opened",
    "closed",
    "iterations",
    "dropped",
    "rate",
    "time_wait",
    "established",
    "cpu_percent",
)


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)


def write_json(path: str | Path, report: dict[str, Any]) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written report."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would differ from the other reports
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(report) + "\n")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(path: str | None, flag: str) -> None:
    """Fail before any load if an output file cannot be created."""
    if not path:
        return
    directory = Path(path).parent
    if not directory.exists():
        raise UsageError(f"{flag}: directory {str(directory)!r} does not exist")
    if not os.access(directory, os.W_OK):
        raise UsageError(f"{flag}: cannot write in {str(directory)!r}")


class CsvTimeline:
    """Appends one row per second as the session ticks, so an interrupted run loses nothing."""

    def __init__(self, path: str) -> None:
        try:
            self._handle: IO[str] = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"--csv: cannot write {path}: {exc.strerror}") from None
        self._writer = csv.DictWriter(self._handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        self._writer.writeheader()
        self._handle.flush()

    def write(self, point: TimelinePoint) -> None:
        self._writer.writerow(timeline_entry(point))
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
