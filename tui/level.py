"""What the console's keys move. The load level: VUs in the closed model, iterations per second in
the open one. It follows the engine's level (stages move it too), except that a level a key has
sent is kept until a snapshot shows it: a snapshot taken before the key never undoes it. And the
HTTP version's cycle."""

from __future__ import annotations

from ..engine import Command, SetConcurrency, SetRate, Snapshot

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


def next_http_version(current: str, targets: tuple[str, ...]) -> str:
    """The version after `current` in the cycle. HTTP/3 is in it only when every target is
    https:// (QUIC is always encrypted)."""
    version = HTTP_CYCLE.get(current, "auto")
    https_only = bool(targets) and all(target.startswith("https://") for target in targets)
    return "auto" if version == "http3" and not https_only else version
