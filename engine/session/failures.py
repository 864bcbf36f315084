"""How an iteration fails: what scenarios raise and virtual users count (`scenario` exports
them too)."""

from __future__ import annotations


class IterationFailed(Exception):
    """A scenario says this iteration failed (a false `test`, a failed expression)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RequestFailed(Exception):
    """A request got no response; the iteration fails with `step: kind`."""

    def __init__(self, step: str, kind: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.kind = kind
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.step}: {self.kind}"
