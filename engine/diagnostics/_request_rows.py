"""Where the hot path writes the per-request log: one fixed-size packed row per request, appended
to a bytearray. No Python object outlives the request, so a second's rows cost one buffer, not
tens of thousands of tuples to build, walk and pickle again; the writer process unpacks them
in C (`struct.iter_unpack`) straight into SQLite.

Only the columns that are not numbers take a lookup: a request becomes a target id (its step,
method and redacted URL, kept apart in `request_targets`), an error kind an error id.
"""

from __future__ import annotations

from typing import Protocol

from ..redact import redact_text
from ..transport import RawRequest, RawResponse, url_of
from ._log_writer import ROW

NO_VALUE = -1
NO_ID = 0


class LoggedVu(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def iteration(self) -> int: ...


class RequestRows:
    """The rows since the last `take()`, with the targets and error kinds they introduced."""

    __slots__ = ("_base", "_batch_targets", "_errors", "_new_errors", "_new_targets", "_rows",
                 "_targets")  # fmt: skip

    def __init__(self, base: float) -> None:
        """`base`: the perf_counter time the start offsets count from."""
        self._base = base
        self._rows = bytearray()
        self._targets: dict[tuple[str, str, str], int] = {}  # (step, method, redacted URL)
        self._batch_targets: dict[tuple[str, str, object, bytes, bytes], int] = {}
        self._errors: dict[str, int] = {}
        self._new_targets: list[tuple[int, str, str, str]] = []
        self._new_errors: list[tuple[int, str]] = []

    def response(
        self,
        started: float,
        vu: LoggedVu,
        step: str,
        request: RawRequest,
        raw: RawResponse,
        total: int,
    ) -> None:
        self._rows += ROW.pack(
            int((started - self._base) * 1e6), vu.id, vu.iteration, self._target(step, request),
            raw.status, NO_ID, raw.wait_us, raw.connect_us, raw.tls_us, raw.ttfb_us, total,
            raw.body_size, raw.connection_id, raw.new_connection,
        )  # fmt: skip

    def failure(
        self, started: float, vu: LoggedVu, step: str, request: RawRequest, kind: str, total: int
    ) -> None:
        error = self._errors.get(kind) or self._new_error(kind)
        no = NO_VALUE  # no response: no status, timings, size or connection
        self._rows += ROW.pack(
            int((started - self._base) * 1e6), vu.id, vu.iteration, self._target(step, request),
            no, error, no, no, no, no, total, no, NO_ID, no,
        )  # fmt: skip

    def take(self) -> tuple[bytearray, list[tuple[int, str, str, str]], list[tuple[int, str]]]:
        """(rows, new targets, new error kinds) since the last call."""
        taken = self._rows, self._new_targets, self._new_errors
        self._rows, self._new_targets, self._new_errors = bytearray(), [], []
        # A URL is redacted again in each batch: a secret learnt meanwhile is masked from then on.
        self._batch_targets = {}
        return taken

    def _target(self, step: str, request: RawRequest) -> int:
        key = (step, request.method, request.origin, request.authority, request.target)
        target = self._batch_targets.get(key)
        if target is None:
            target = self._batch_targets[key] = self._redacted_target(step, request)
        return target

    def _redacted_target(self, step: str, request: RawRequest) -> int:
        key = (step, request.method, redact_text(str(url_of(request))))
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = len(self._targets) + 1
            self._new_targets.append((target, *key))
        return target

    def _new_error(self, kind: str) -> int:
        error = self._errors[kind] = len(self._errors) + 1
        self._new_errors.append((error, kind))
        return error
