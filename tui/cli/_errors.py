"""The command line's exit codes and error type; they live in `tui/errors.py`, shared with the
console and the report writers."""

from ..errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE, UsageError

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_THRESHOLD", "EXIT_USAGE", "UsageError"]
