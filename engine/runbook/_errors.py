"""Load-time errors and warnings, each pinned to `file:line:col` and printed on one line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a runbook; line and column count from 1 (line 0: a flag, not a file)."""

    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        if self.line == 0:  # not in a file: a command-line flag
            return self.path
        return f"{self.path}:{self.line}:{self.col}"


class RunbookError(Exception):
    """A runbook cannot be loaded: `file:line:col: what is wrong (hint)`, one line."""

    def __init__(self, location: Location | str, message: str, hint: str | None = None) -> None:
        self.location = location
        self.message = one_line(message)
        self.hint = one_line(hint) if hint else None
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class ExpressionError(Exception):
    """An expression does not parse or compile; `offset` is where, in the expression's text."""

    def __init__(self, message: str, offset: int = 0, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


class EvalError(Exception):
    """An expression failed while running (fetching from nil, a type mismatch ...)."""


def one_line(text: str, limit: int = 160) -> str:
    """`text` on a single line: newlines become spaces, runs of blanks collapse, long is cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
