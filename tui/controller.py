"""What the console drives: the engine's controls plus a stream of snapshots.

`engine.EngineProcess` is the real one (a session in its own process). `ScriptedController`
replays prepared snapshots and records the calls made to it, for tests and screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ..engine import Snapshot


class Controller(Protocol):
    final: Snapshot | None
    errors: list[str]
    exit_message: str | None

    def set_concurrency(self, n: int) -> None: ...
    def set_rate(self, rate: float) -> None: ...
    def set_reuse_mode(self, mode: str) -> None: ...
    def set_http_version(self, version: str) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def reset_stats(self) -> None: ...
    def stop(self) -> None: ...
    def abort(self) -> None: ...
    def updates(self) -> Snapshot | None: ...
    def close(self, timeout: float = 3.0) -> None: ...

    @property
    def finished(self) -> bool: ...


class ScriptedController:
    """Plays back snapshots one per `updates()` call; `stop()` jumps to the final one."""

    def __init__(self, snapshots: list[Snapshot], final: Snapshot | None = None) -> None:
        self._snapshots: Iterator[Snapshot] = iter(snapshots)
        self._latest: Snapshot | None = None
        self._final = final
        self.final: Snapshot | None = None
        self.errors: list[str] = []
        self.exit_message: str | None = None
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def _record(self, name: str, *args: object) -> None:
        self.calls.append((name, args))

    def set_concurrency(self, n: int) -> None:
        self._record("set_concurrency", n)

    def set_rate(self, rate: float) -> None:
        self._record("set_rate", rate)

    def set_reuse_mode(self, mode: str) -> None:
        self._record("set_reuse_mode", mode)

    def set_http_version(self, version: str) -> None:
        self._record("set_http_version", version)

    def pause(self) -> None:
        self._record("pause")

    def resume(self) -> None:
        self._record("resume")

    def reset_stats(self) -> None:
        self._record("reset_stats")

    def stop(self) -> None:
        self._record("stop")
        self.final = self._final or self._latest

    def abort(self) -> None:
        self._record("abort")

    def updates(self) -> Snapshot | None:
        if self.final is not None:
            return self.final
        self._latest = next(self._snapshots, self._latest)
        return self._latest

    def close(self, timeout: float = 3.0) -> None:
        self._record("close")

    @property
    def finished(self) -> bool:
        return self.final is not None
