"""Files the user names as input (request bodies, runbooks, includes, var files): regular files
under a size limit, read whole. Anything else is named for what it is, never read: `/dev/zero`
as a body would be read until the memory runs out."""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_INPUT_FILE = 64 * 1024 * 1024  # 64 MiB: a request body is held in memory for every send
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "not a regular file (a character device)"),
    (stat.S_ISBLK, "not a regular file (a block device)"),
    (stat.S_ISFIFO, "not a regular file (a named pipe)"),
    (stat.S_ISSOCK, "not a regular file (a socket)"),
)


class InputFileError(ValueError):
    """An input file that cannot be used; the message says why, without the path."""


def input_file_problem(path: str | Path, limit: int = MAX_INPUT_FILE) -> str:
    """Why `path` cannot be read as an input file, or "" when it can."""
    if not str(path):  # Path("") is the current folder
        return "an empty file name"
    try:
        mode_size = os.stat(path)
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return exc.strerror or str(exc)
    except ValueError:  # a NUL byte in the name
        return "not a valid file name"
    for is_kind, description in _KINDS:
        if is_kind(mode_size.st_mode):
            return description
    if not stat.S_ISREG(mode_size.st_mode):
        return "not a regular file"
    if mode_size.st_size > limit:
        return f"{mode_size.st_size:,} bytes, more than the limit of {_size(limit)}"
    return ""


def read_input_file(path: str | Path, limit: int = MAX_INPUT_FILE) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; InputFileError says why not."""
    problem = input_file_problem(path, limit)
    if problem:
        raise InputFileError(problem)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)  # a file that grew since: still never past the limit
    except OSError as exc:
        raise InputFileError(exc.strerror or str(exc)) from None
    if len(data) > limit:
        raise InputFileError(f"more than the limit of {_size(limit)}")
    return data


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
