"""Report files: the JSON report (written atomically) and the per-second CSV timeline."""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from ...engine import TimelinePoint
from ...engine.metrics.report import timeline_entry
from ...engine.redact import redact_value
from ..errors import UsageError

STDOUT = "-"  # an output file named so is stdout, as in k6 and vegeta

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
    return json.dumps(redact_value(report), indent=2, ensure_ascii=False)


def write_json(path: str | Path, report: dict[str, Any]) -> None:
    write_atomic(path, dumps(report) + "\n")


def write_atomic(path: str | Path, text: str) -> None:
    """Every report file (JSON, HTML): written to a temporary file beside `path`, then renamed,
    so never half-written, with the mode any new file gets (0666 less the umask), not
    mkstemp's 0600."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_files(files: dict[str, str | None], *, save_dir: str | None = None) -> None:
    """Every command's output files (by flag), checked before anything is sent: exit 2 if one
    cannot be written, so a run never ends by losing its report."""
    seen: dict[Path, str] = {}
    for flag, path in files.items():
        if not path:
            continue
        check_writable(path, flag)
        resolved = Path(path).resolve()
        if resolved in seen:
            raise UsageError(f"{flag} and {seen[resolved]} name the same file {path}")
        seen[resolved] = flag
    if save_dir:
        check_directory(save_dir, "--save-dir")


def check_directory(path: str, flag: str) -> None:
    """A directory the console saves into: made when first needed, so it may not exist yet;
    if it does, it must be a directory where files can be created."""
    target = Path(path)
    try:
        if target.exists() and not target.is_dir():
            raise UsageError(f"{flag}: {path!r} is a file, not a directory")
        if target.is_dir():
            fd, probe = tempfile.mkstemp(prefix=".loadscope.", dir=target)
            os.close(fd)
            os.unlink(probe)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{flag}: cannot write in {_shown(path)}: {reason}") from None


def check_writable(path: str | None, flag: str) -> None:
    """The file may be created (or replaced) where it is named: a regular file or nothing yet,
    in a directory where a new file can be made (tried, not guessed: root ignores modes)."""
    if path is None:
        return
    if not path.strip():
        raise UsageError(f"{flag}: empty file name")
    try:
        _check_writable(Path(path), path, flag)
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a loop of links...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{flag}: cannot write {_shown(path)}: {reason}") from None


def _shown(path: str) -> str:
    if path.isprintable() and len(path) <= 80:
        return path
    return repr(path if len(path) <= 80 else path[:77] + "...")


def _check_writable(target: Path, path: str, flag: str) -> None:
    if target.is_dir():
        raise UsageError(f"{flag}: {path} is a directory; name a file in it")
    if target.exists() and not target.is_file():
        raise UsageError(f"{flag}: {path} is not a regular file")
    directory = target.parent
    if not directory.is_dir():
        missing = str(directory)
        raise UsageError(f"{flag}: cannot write {path}: directory {missing!r} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    except OSError as exc:
        where = f"{directory}/" if str(directory) != "/" else "/"
        reason = f"no file can be created in {where} ({exc.strerror})"
        raise UsageError(f"{flag}: cannot write {path}: {reason}") from None
    os.close(fd)
    os.unlink(probe)
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"{flag}: cannot write {path}: permission denied")


def write_failure(path: str, exc: OSError) -> str:
    """The one line that says a report file could not be written at the end."""
    return f"cannot write {path}: {exc.strerror or exc}"


class CsvTimeline:
    """Appends one row per second as the session ticks, so an interrupted run loses nothing;
    to stdout for `-`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.failure = ""
        self._handle: IO[str] = sys.stdout if path == STDOUT else _open_csv(path)
        self._writer = csv.DictWriter(self._handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
        self._writer.writeheader()
        self._handle.flush()

    def write(self, point: TimelinePoint) -> None:
        if self.failure:
            return
        try:
            self._writer.writerow(timeline_entry(point))
            self._handle.flush()
        except OSError as exc:  # disk full mid-run: the run goes on, the exit code says it
            self.failure = write_failure(self.path, exc)

    def close(self) -> None:
        try:
            if self.path == STDOUT:
                self._handle.flush()  # stdout stays open for what follows
            else:
                self._handle.close()
        except OSError as exc:
            self.failure = self.failure or write_failure(self.path, exc)


def _open_csv(path: str) -> IO[str]:
    try:
        return open(path, "w", newline="", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--csv: cannot write {path}: {exc.strerror}") from None
