"""Exit codes and the one error type the command line turns into a one-line message."""

from __future__ import annotations

EXIT_OK = 0
EXIT_THRESHOLD = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input: a flag, a runbook, a target that cannot be reached at start. Exit code 2."""

    code = EXIT_USAGE
