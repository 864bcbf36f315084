"""stdout and stderr through the redactor: whatever the command line prints (reports,
warnings, error lines, progress) masks URL userinfo, secret headers and runbook secrets."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from ...engine.redact import redact_text


class RedactingStream:
    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        return self._inner.write(redact_text(text))

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding...
        return getattr(self._inner, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    out, err = sys.stdout, sys.stderr
    sys.stdout = RedactingStream(out)
    sys.stderr = RedactingStream(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
