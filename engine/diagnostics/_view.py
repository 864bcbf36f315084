"""What diagnostics see of a session: a read-only view, and the hooks they plug in through.

The session layer sits above diagnostics, so diagnostics never import it: they are written
against `SessionView`, which `Session` satisfies structurally: mypy checks that wherever a
`Session` is passed as one (`Session.snapshot`, the callers of `attach_diagnostics`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .._config import HttpVersion, ReuseMode, SessionConfig, State
from ..metrics import EventKind, EventRecord, Metrics
from ..transport import Runner
from ._ledger import ConnectionLedger


class SessionView(Protocol):
    # The per-request log's entries since its last hand-over; None: no log (see `_request_log`).
    request_log: list[tuple[Any, ...]] | None
    """The parts of a session that diagnostics read, and the few calls they make."""

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

    def set_reuse_mode(self, mode: ReuseMode | str) -> None: ...

    def add_extension(self, extension: DiagnosticsExtension) -> None: ...


class DiagnosticsExtension:
    """A session hook written against `SessionView`; every method does nothing unless
    overridden. It satisfies the session's own extension protocol."""

    def started(self, session: SessionView) -> None:
        """Called once when the session starts."""

    def tick(self, session: SessionView) -> dict[str, object]:
        """Called every second; returns extra `TimelinePoint` fields."""
        return {}

    def reset(self, session: SessionView) -> None:
        """Called when statistics are reset."""

    def stopped(self, session: SessionView) -> None:
        """Called once when the session has stopped."""

    def snapshot_fields(self) -> dict[str, object]:
        """Extra `Snapshot` fields."""
        return {}
