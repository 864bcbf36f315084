"""What a user interface drives: a session wherever it runs, behind `Controls`, plus the stream of
snapshots it sends. `EngineProcess` and `WorkerController` are controllers; so is the console's
`ScriptedController` (it replays prepared snapshots)."""

from __future__ import annotations

from typing import Protocol

from ..metrics import Snapshot
from ..session import Controls


class Controller(Controls, Protocol):
    """`Controls`, and the updates of a session that runs elsewhere; nothing here blocks."""

    final: Snapshot | None  # the last snapshot, once the session has stopped
    errors: list[str]  # commands the session refused, one line each
    exit_message: str | None  # why the session ended without a final snapshot

    def updates(self) -> Snapshot | None:
        """Take in what the session sent; the newest snapshot (or the latest seen)."""
        ...

    @property
    def finished(self) -> bool: ...

    def close(self, timeout: float = 3.0) -> None: ...
