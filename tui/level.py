"""What the console's keys move. The load level: VUs in the closed model, iterations per second in
the open one. It follows the engine's level (stages move it too), except that a level a key has
sent is kept until a snapshot shows it: a snapshot taken before the key never undoes it. A big
increase goes in steps, and under --stages the keys leave the level alone. And the HTTP
version's cycle."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from textual.timer import Timer

from ..engine import Command, SetConcurrency, SetRate, Snapshot

RAMP_STEP = 500  # VUs added at a time when the `c` dialog asks for many more
RAMP_SECONDS = 0.2
STAGES_NOTICE_SECONDS = 4.0

# `h` cycles auto → HTTP/1.1 → HTTP/2 → HTTP/3 → auto
HTTP_CYCLE = {"auto": "http1", "http1": "http2", "http2": "http3", "http3": "auto"}
HTTP_NAMES = {
    "auto": "auto (negotiated)",
    "http1": "HTTP/1.1",
    "http2": "HTTP/2",
    "http3": "HTTP/3 (QUIC)",
}

# A sent level that this many new snapshots (about a second each) do not show is followed no
# more: the engine did not take it (a stage moved the level, or a limit held it)
SENT_LEVEL_SNAPSHOTS = 5


class Level:
    def __init__(self, *, open_model: bool, concurrency: int, rate: float) -> None:
        self.open_model = open_model
        self.concurrency = concurrency
        self.rate = rate
        self.asked: float | None = None  # sent by a key, not yet seen in a snapshot
        self._snapshots_since_asked = 0
        self._last_counted: float | None = None  # the session time of the last one counted

    @property
    def value(self) -> float:
        return self.rate if self.open_model else self.concurrency

    def ask(self, value: float, latest: Snapshot | None) -> Command:
        """Set the level to `value`: the command that tells the engine."""
        self._set(value)
        self.asked = self.value
        self._snapshots_since_asked = 0
        self._last_counted = latest.session_s if latest else None
        return SetRate(self.rate) if self.open_model else SetConcurrency(self.concurrency)

    def follow(self, snapshot: Snapshot) -> None:
        current = snapshot.rate if self.open_model else snapshot.concurrency
        if current is None:
            return
        if self.asked is not None:
            if snapshot.session_s != self._last_counted:  # polls repeat the latest snapshot
                self._snapshots_since_asked += 1
                self._last_counted = snapshot.session_s
            if current == self.asked or self._snapshots_since_asked > SENT_LEVEL_SNAPSHOTS:
                self.asked = None
        if self.asked is None:
            self._set(current)

    def _set(self, value: float) -> None:
        if self.open_model:
            self.rate = float(value)
        else:
            self.concurrency = int(value)


class _Intervals(Protocol):
    def set_interval(self, interval: float, callback: Callable[[], Any]) -> Timer: ...


class Ramp:
    """A big increase of VUs from the `c` dialog, sent RAMP_STEP at a time: the engine starts
    them in bites, and the console keeps answering keys in between."""

    def __init__(
        self,
        timers: _Intervals,
        send: Callable[[float], None],
        current: Callable[[], int],
        live: Callable[[], bool],
    ) -> None:
        self._timers = timers
        self._send = send
        self._current = current
        self._live = live
        self.target: int | None = None
        self._timer: Timer | None = None

    def start(self, target: int) -> None:
        self.stop()  # a ramp already running: its timer must not keep stepping
        self.target = target
        self._timer = self._timers.set_interval(RAMP_SECONDS, self._step)
        self._step()

    def stop(self) -> None:
        self.target = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _step(self) -> None:
        target = self.target
        if target is None or not self._live():
            self.stop()
            return
        level = min(target, self._current() + RAMP_STEP)
        self._send(level)
        if level >= target:
            self.stop()


class StagesGuard:
    """With --stages the stages set the level, as k6's stages and Locust's load shapes do (the
    next step of the ramp would undo a key's change): a level key says so, once while the notice
    shows, and changes nothing."""

    def __init__(self, staged: bool, open_model: bool, notify: Callable[..., None]) -> None:
        self._staged = staged
        self._what = "rate" if open_model else "VUs"
        self._notify = notify
        self._notice_until = 0.0

    def refuse_level_key(self) -> bool:
        """True when --stages holds the level: the key is refused, and a notice says why (once
        while it shows)."""
        if not self._staged:
            return False
        now = time.monotonic()
        if now >= self._notice_until:
            self._notify(
                f"--stages set the {self._what} in this run: + - ] [ c change nothing",
                title="stages",
                timeout=STAGES_NOTICE_SECONDS,
            )
            self._notice_until = now + STAGES_NOTICE_SECONDS
        return True


def next_http_version(current: str, targets: tuple[str, ...]) -> str:
    """The version after `current` in the cycle. HTTP/3 is in it only when every target is
    https:// (QUIC is always encrypted)."""
    version = HTTP_CYCLE.get(current, "auto")
    https_only = bool(targets) and all(target.startswith("https://") for target in targets)
    return "auto" if version == "http3" and not https_only else version
