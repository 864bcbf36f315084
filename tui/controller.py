"""What the console drives: the engine's `Controller` (its `Controls` plus a stream of snapshots).

`engine.EngineProcess` is the real one (a session in its own process). `ScriptedController`
replays prepared snapshots and records the commands sent to it, for tests and screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine import Command, CommandControls, Controller, Snapshot, Stop
from ..engine.session import call_of

__all__ = ["Controller", "ScriptedController"]


class ScriptedController(CommandControls):
    """Plays back snapshots one per `updates()` call; `stop()` jumps to the final one."""

    def __init__(self, snapshots: list[Snapshot], final: Snapshot | None = None) -> None:
        self._snapshots: Iterator[Snapshot] = iter(snapshots)
        self._latest: Snapshot | None = None
        self._final = final
        self.final: Snapshot | None = None
        self.errors: list[str] = []
        self.exit_message: str | None = None
        self.calls: list[tuple[str, tuple[object, ...]]] = []  # each command, as its call

    def send(self, command: Command) -> None:
        self.calls.append(call_of(command))
        if isinstance(command, Stop):
            self.final = self._final or self._latest

    def snapshot(self) -> Snapshot | None:
        return self.final or self._latest

    def updates(self) -> Snapshot | None:
        if self.final is not None:
            return self.final
        self._latest = next(self._snapshots, self._latest)
        return self._latest

    def push(self, snapshot: Snapshot) -> None:
        """`snapshot` is what `updates()` gives from now on, as if the engine had sent it."""
        self._snapshots = iter([snapshot])

    def close(self, timeout: float = 3.0) -> None:
        self.calls.append(("close", ()))

    @property
    def finished(self) -> bool:
        return self.final is not None
