"""The session's event log: what happened when, in typed records and the line people read."""

from __future__ import annotations

import time
from collections import deque

from ..metrics import EventKind, EventRecord

EVENTS_KEPT = 500
DUMP_EVERY = 1.0  # seconds: a runbook's `dump` of one step is logged at most this often


class EventLog:
    """The newest `EVENTS_KEPT` events; `t` counts seconds from the session's start."""

    def __init__(self, kept: int = EVENTS_KEPT) -> None:
        self.records: deque[EventRecord] = deque(maxlen=kept)
        self.started_at = 0.0  # perf_counter time the session started; 0: not yet
        self._logged_once: set[str] = set()
        self._dumps_logged: dict[str, float] = {}

    def event(
        self,
        kind: EventKind,
        message: str,
        *,
        before: float | None = None,
        after: float | None = None,
        mode: str | None = None,
        detector: str | None = None,
    ) -> None:
        """Log `kind` with its typed values and the line people read."""
        now = time.perf_counter()
        t = round(now - (self.started_at or now), 3)
        self.records.append(EventRecord(t, kind, message, before, after, mode, detector))

    def log_once(self, key: str, message: str) -> None:
        """A warning said once per `key` for the whole session."""
        if key not in self._logged_once:
            self._logged_once.add(key)
            self.event(EventKind.WARNING, message)

    def log_dump(self, step: str, value: object) -> None:
        """A runbook's `dump` goes to the event log, at most once a second per step."""
        now = time.perf_counter()
        if now - self._dumps_logged.get(step, -DUMP_EVERY) < DUMP_EVERY:
            return
        self._dumps_logged[step] = now
        self.event(EventKind.DUMP, f"{step}: {value!r}"[:300])
