"""The scenario of a target list: each iteration sends the next target (round-robin over the
list, or one at random), each target counted in its own row.

A list from stdin is read as it comes: the run starts once the first targets are in (the
stream has paused or ended), and a reader thread adds the rest as they arrive. A bad line that
arrives after the start stops the run; `TargetFeed.error` says which.
"""

from __future__ import annotations

import asyncio
import os
import random
import select
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import httpx

from .._config import RunnerConfig
from ._target_list import Target, TargetListError, TargetParser, step_names
from .scenario import (
    DEFAULT_EXPECTED_STATUS,
    HTTP_STATUS,
    RequestFailed,
    VirtualUserView,
    parse_status_ranges,
)

if TYPE_CHECKING:
    from ..metrics import StepStats
    from ..transport import RawRequest, Runner

ORDERS = ("round-robin", "random")
QUIET_S = 0.2  # a stream idle this long after its first target has delivered its first batch
FIRST_BATCH_S = 1.0  # a stream that never pauses starts the load this long after its first target


class TargetFeed:
    """The targets read so far and, for a stream, the reader of the rest."""

    def __init__(self, source: str, targets: Sequence[Target] = ()) -> None:
        self.source = source
        self.targets = list(targets)
        self.error: str | None = None
        self._fd: int | None = None
        self._parser: TargetParser | None = None
        self._buffer = b""

    def __getstate__(self) -> dict[str, object]:
        """What a worker process gets: the targets, never the stream."""
        return {"source": self.source, "targets": self.targets}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(str(state["source"]), state["targets"])  # type: ignore[misc]

    @property
    def streaming(self) -> bool:
        return self._fd is not None

    @classmethod
    def from_stream(cls, fd: int, source: str = "stdin", quiet: float = QUIET_S) -> TargetFeed:
        """Read until the stream ends, or pauses for `quiet` seconds once a target is in.
        TargetListError for a bad line among those, or when it ends with no target."""
        feed = cls(source)
        feed._fd = fd
        feed._parser = TargetParser(source)
        first_at = 0.0
        while True:
            wait = quiet if feed.targets else None
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                return feed  # paused: the rest is read while the load runs
            if feed.targets and time.monotonic() - first_at > FIRST_BATCH_S:
                return feed  # it never pauses (a generator): start, and read on meanwhile
            had = len(feed.targets)
            if not feed._read_some(feed.targets.append):
                break
            if not had and feed.targets:
                first_at = time.monotonic()
        if not feed.targets:
            raise TargetListError(f"{source}: no targets")
        return feed

    def _read_some(self, add: Callable[[Target], None]) -> bool:
        """One read; each completed target goes to `add`. False at the end of the stream."""
        assert self._fd is not None and self._parser is not None
        chunk = os.read(self._fd, 65536)
        if not chunk:
            for target in self._parser.finish():
                add(target)
            self._fd = None
            return False
        lines = (self._buffer + chunk).split(b"\n")
        self._buffer = lines.pop()
        for line in lines:
            for target in self._parser.feed(line.decode("utf-8", "replace")):
                add(target)
        return True

    def follow(self, loop: asyncio.AbstractEventLoop, add: Callable[[Target], None],
               fail: Callable[[str], None]) -> None:  # fmt: skip
        """Read the rest of the stream in a thread; targets and a bad line reach the loop."""
        if self._fd is None:
            return

        def read() -> None:
            def deliver(target: Target) -> None:
                loop.call_soon_threadsafe(add, target)

            try:
                while self._read_some(deliver):
                    pass
            except TargetListError as exc:
                loop.call_soon_threadsafe(fail, str(exc))
            except (OSError, RuntimeError):
                pass  # the stream or the loop went away: nothing more to add

        threading.Thread(target=read, name="loadscope-targets", daemon=True).start()


class _Entry:
    __slots__ = ("request", "runner", "step")

    def __init__(self, runner: Runner, request: RawRequest, step: StepStats) -> None:
        self.runner = runner
        self.request = request
        self.step = step


class TargetListScenario:
    """`loadscope run --targets FILE`: one request per iteration, the next target's."""

    def __init__(
        self,
        feed: TargetFeed,
        order: str = "round-robin",
        expect_status: str = DEFAULT_EXPECTED_STATUS,
        seed: int | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        if order not in ORDERS:
            raise ValueError(f"--targets-order {order!r}: choose round-robin or random")
        if not feed.targets:
            raise TargetListError(f"{feed.source}: no targets")
        self.feed = feed
        self.order = order
        self.name = f"targets {feed.source}"
        self.expect_status = expect_status
        self.headers = tuple(headers)  # -H: added to every target, after its own (as vegeta)
        self._expected = frozenset(
            code
            for low, high in parse_status_ranges(expect_status)
            for code in range(low, high + 1)
        )
        initial = list(feed.targets)
        self._names = step_names(initial)
        self._origins = list(dict.fromkeys(_origin(t.url) for t in initial))
        self._entries: list[_Entry] = []
        self._pending: list[Target] = []
        self._next = 0
        self._random = random.Random(seed)
        self._runners: Mapping[str, Runner] = {}
        self._add_step: Callable[[str], StepStats] | None = None
        self._stop: Callable[[], None] | None = None

    # -- the Scenario protocol ------------------------------------------------------------------
    def runner_configs(self) -> Sequence[RunnerConfig]:
        return [RunnerConfig(name=_runner_name(i), base_url=o) for i, o in enumerate(self._origins)]

    def step_names(self) -> Sequence[str]:
        return list(dict.fromkeys(self._names))

    def targets(self) -> Sequence[str]:
        return list(dict.fromkeys(t.url for t in self.feed.targets))

    def prepare(self, runners: Mapping[str, Runner], steps: Mapping[str, StepStats]) -> None:
        self._runners = runners
        for target, name in zip(self.feed.targets, self._names, strict=True):
            self._entries.append(self._entry(target, steps[name]))

    def attach_session(
        self, add_step: Callable[[str], StepStats], stop: Callable[[], None]
    ) -> None:
        """The session's hooks: a row for a target that arrives later, and a stop on a bad line."""
        self._add_step = add_step
        self._stop = stop
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # built outside a loop (a test): no stream to follow
        self.feed.follow(loop, self.add_target, self.fail)

    async def run_iteration(self, vu: VirtualUserView) -> None:
        entry = self._choose()
        raw = await vu.exchange(entry.runner, entry.request, entry.step)
        if raw.status not in self._expected:
            message = f"status {raw.status}, expected {self.expect_status}"
            vu.reject(entry.step, HTTP_STATUS, message)
            raise RequestFailed(entry.step.name, HTTP_STATUS, message)

    # -- the list -------------------------------------------------------------------------------
    def add_target(self, target: Target) -> None:
        if self._add_step is None:
            return
        self.feed.targets.append(target)
        taken = {entry.step.name for entry in self._entries}
        name, count = target.name, 1
        while name in taken:
            count += 1
            name = f"{target.name} #{count}"
        self._entries.append(self._entry(target, self._add_step(name)))

    def fail(self, message: str) -> None:
        self.feed.error = message
        if self._stop is not None:
            self._stop()

    def _choose(self) -> _Entry:
        entries = self._entries
        if self.order == "random":
            return entries[self._random.randrange(len(entries))]
        index = self._next % len(entries)
        self._next = index + 1
        return entries[index]

    def _entry(self, target: Target, step: StepStats) -> _Entry:
        origin = _origin(target.url)
        index = self._origins.index(origin) if origin in self._origins else 0
        runner = self._runners[_runner_name(index)]
        request = runner.build_request(
            target.method,
            target.url,
            headers=[*target.headers, *self.headers],
            content=target.body,
            keep_body=False,  # nothing reads it: count it, don't keep it
        )
        return _Entry(runner, request, step)


def _origin(url: str) -> str:
    return str(httpx.URL(url).copy_with(path="/", query=None, fragment=None))


def _runner_name(index: int) -> str:
    return "targets" if index == 0 else f"targets#{index + 1}"
