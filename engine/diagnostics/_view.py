"""What diagnostics see of a session, what they may change, and the hooks they plug in through.

The session layer sits above diagnostics, so diagnostics never import it: they are written
against `SessionView` (read-only) and `SessionPort` (the few changes they may make: phases
switch the reuse mode; everything may log an event). `Session` satisfies both structurally, and
mypy checks it wherever a `Session` is passed as one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .._config import HttpVersion, ReuseMode, SessionConfig, State
from ..metrics import (
    EventKind,
    EventRecord,
    GeneratorLoad,
    KernelSnapshot,
    Metrics,
    MixRow,
    PhaseResult,
)
from ..metrics import Warning as DetectorWarning
from ..transport import Runner
from ._ledger import ConnectionLedger
from ._request_rows import RequestRows


class SessionView(Protocol):
    """The parts of a session that diagnostics read; nothing here changes it."""

    @property
    def config(self) -> SessionConfig: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def ledger(self) -> ConnectionLedger: ...

    @property
    def runners(self) -> Mapping[str, Runner]: ...

    @property
    def state(self) -> State: ...

    @property
    def reuse_mode(self) -> ReuseMode: ...

    @property
    def http_version(self) -> HttpVersion: ...

    @property
    def concurrency(self) -> int: ...

    @property
    def rate(self) -> float | None: ...

    @property
    def busy(self) -> int: ...

    @property
    def paused(self) -> bool: ...

    @property
    def warming_up(self) -> bool: ...

    @property
    def events(self) -> Sequence[EventRecord]: ...

    def elapsed(self) -> float:
        """Seconds since the statistics started."""
        ...

    def session_elapsed(self) -> float:
        """Seconds since the session started (the clock of `EventRecord.t`)."""
        ...


class SessionPort(Protocol):
    """What diagnostics may change in a session: the reuse mode (phases), the event log, the
    per-request log's hand-over."""

    def set_reuse_mode(self, mode: ReuseMode | str) -> None: ...

    def event(
        self,
        kind: EventKind,
        message: str,
        *,
        before: float | None = None,
        after: float | None = None,
        mode: str | None = None,
        detector: str | None = None,
    ) -> None: ...

    def log_once(self, key: str, message: str) -> None: ...

    def log_requests(self, rows: RequestRows | None) -> None:
        """From now on, every request's row goes into `rows` (None: no more)."""


@dataclass(frozen=True, slots=True)
class PointFields:
    """What extensions add to a second of the timeline (`TimelinePoint`'s fields of the same
    names); None: nothing to add."""

    time_wait: int | None = None
    established: int | None = None
    cpu_percent: float | None = None


@dataclass(frozen=True, slots=True)
class SnapshotFields:
    """What extensions add to a `Snapshot` (its fields of the same names); None: nothing."""

    kernel: KernelSnapshot | None = None
    warnings: tuple[DetectorWarning, ...] | None = None
    generator: GeneratorLoad | None = None
    phases: tuple[PhaseResult, ...] | None = None
    mix: tuple[MixRow, ...] | None = None


F = TypeVar("F", PointFields, SnapshotFields)


def overlay(base: F, over: F) -> F:
    """`base` with every field `over` sets (not None) taken from `over`."""
    changes = {
        field.name: value
        for field in dataclasses.fields(over)
        if (value := getattr(over, field.name)) is not None
    }
    return dataclasses.replace(base, **changes)


class DiagnosticsExtension:
    """A hook into a session's life, written against `SessionView` and `SessionPort`; every
    method does nothing unless overridden."""

    def started(self, view: SessionView, port: SessionPort) -> None:
        """Called once when the session starts."""

    def before_tick(self, view: SessionView, port: SessionPort) -> None:
        """Called shortly before each tick: time to start a reading the tick will show."""

    async def before_final_tick(self, view: SessionView, port: SessionPort) -> None:
        """Awaited once as the session stops, before its final tick: time to finish a reading
        that tick should show."""

    def tick(self, view: SessionView, port: SessionPort) -> PointFields:
        """Called every second; what it returns goes into that second's `TimelinePoint`."""
        return PointFields()

    def reset(self, view: SessionView, port: SessionPort) -> None:
        """Called when statistics are reset."""

    def stopped(self, view: SessionView, port: SessionPort) -> None:
        """Called once when the session has stopped."""

    def snapshot_fields(self) -> SnapshotFields:
        """What this extension adds to a snapshot."""
        return SnapshotFields()


class ExtensionHost(SessionView, SessionPort, Protocol):
    """A session that extensions can be added to (before it starts)."""

    def add_extension(self, extension: DiagnosticsExtension) -> None: ...
