"""Connection and request counters in shared memory, readable by the parent without a connection.

Each worker owns its own slots and is their only writer, so no lock is needed: the parent sums
aligned 64-bit integers, which a concurrent increment can make stale by one but never torn.
"""

from __future__ import annotations

import enum
import multiprocessing
import multiprocessing.context
from ctypes import Array, c_longlong

from ._options import Listener


class Field(enum.IntEnum):
    ACCEPTED = 0  # counted in `connection_made`, before any TLS handshake
    CLOSED = 1
    REQUESTS = 2


_PER_LISTENER = len(Field)
_PER_WORKER = len(Listener) * _PER_LISTENER


class SharedCounters:
    def __init__(
        self, workers: int = 1, context: multiprocessing.context.BaseContext | None = None
    ) -> None:
        self.workers = workers
        ctx = context or multiprocessing.get_context("spawn")
        self.array: Array[c_longlong] = ctx.RawArray(c_longlong, workers * _PER_WORKER)

    def slot(self, worker: int, listener: Listener) -> int:
        """Index of `Field.ACCEPTED` for this worker and listener; the other fields follow it."""
        return worker * _PER_WORKER + listener.slot * _PER_LISTENER

    def total(self, field: Field, listener: Listener | str | None = None) -> int:
        listeners = list(Listener) if listener is None else [Listener(listener)]
        array = self.array
        return sum(
            array[self.slot(worker, each) + field]
            for worker in range(self.workers)
            for each in listeners
        )

    def open(self, listener: Listener | str | None = None) -> int:
        closed = self.total(Field.CLOSED, listener)  # first, so a racing close can't go negative
        return self.total(Field.ACCEPTED, listener) - closed

    def as_dict(self) -> dict[str, object]:
        """The shape `/__stats` and `TargetProcess.stats()` answer with."""
        return {
            "accepted": self.total(Field.ACCEPTED),
            "open": self.open(),
            "requests": self.total(Field.REQUESTS),
            "listeners": {
                listener.value: {
                    "accepted": self.total(Field.ACCEPTED, listener),
                    "open": self.open(listener),
                    "requests": self.total(Field.REQUESTS, listener),
                }
                for listener in Listener
            },
            "workers": self.workers,
        }
