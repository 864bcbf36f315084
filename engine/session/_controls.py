"""The one control surface: what can be asked of a running session, wherever it runs.

`Controls` is implemented by the in-process `Session`, by `EngineProcess` (a session in a child
process), by `WorkerController` (a session split over local workers or Ray actors) and by the
console's `ScriptedController`. A control crosses a process boundary as a `Command` (a frozen
value that pickles), and `apply` is the one place that turns a command into a call:

    apply(SetConcurrency(20), controls)  # the same as controls.set_concurrency(20)

A command checks its value when it is made, so a bad one fails where it was asked for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol, TypeGuard, get_args, runtime_checkable

from .._config import HttpVersion, ReuseMode
from ..metrics import Snapshot


@runtime_checkable
class Controls(Protocol):
    """The live controls of a session; none of them blocks."""

    def set_concurrency(self, n: int) -> None:
        """Closed model: the number of VUs; open model: the most VUs the arrivals may use."""

    def set_rate(self, rate: float) -> None:
        """Open model: iterations started per second (ValueError in a closed-model session)."""

    def set_reuse_mode(self, mode: ReuseMode | str) -> None: ...

    def set_http_version(self, version: HttpVersion | str) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def reset_stats(self) -> None:
        """Statistics start again from now; the load goes on."""

    def stop(self) -> None:
        """End the run: no new iterations; running ones finish within the grace."""

    def abort(self) -> None:
        """End the run now, cutting whatever is still in flight."""

    def snapshot(self) -> Snapshot | None:
        """The latest state (None before a session in another process has sent one)."""


class ControlError(RuntimeError):
    """A control could not reach the session (its process is gone), or is not a control."""


@dataclass(frozen=True, slots=True)
class SetConcurrency:
    n: int

    def __post_init__(self) -> None:
        n = self.n
        if isinstance(n, bool) or not isinstance(n, int | float) or n != int(n):
            raise ValueError(f"concurrency must be a whole number, not {n!r}")
        object.__setattr__(self, "n", max(0, int(n)))


@dataclass(frozen=True, slots=True)
class SetRate:
    rate: float

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not isinstance(self.rate, int | float):
            raise ValueError(f"rate must be a number, not {self.rate!r}")
        object.__setattr__(self, "rate", max(0.0, float(self.rate)))


@dataclass(frozen=True, slots=True)
class SetReuseMode:
    mode: ReuseMode

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", ReuseMode(self.mode))


@dataclass(frozen=True, slots=True)
class SetHttpVersion:
    version: HttpVersion

    def __post_init__(self) -> None:
        object.__setattr__(self, "version", HttpVersion(self.version))


@dataclass(frozen=True, slots=True)
class Pause:
    pass


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class ResetStats:
    pass


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Abort:
    pass


Command = (
    SetConcurrency
    | SetRate
    | SetReuseMode
    | SetHttpVersion
    | Pause
    | Resume
    | ResetStats
    | Stop
    | Abort
)


COMMANDS: tuple[type, ...] = get_args(Command)


def is_command(value: object) -> TypeGuard[Command]:
    return isinstance(value, COMMANDS)


def apply(command: Command, controls: Controls) -> None:
    """Make the call `command` stands for on `controls`; ControlError if it is no command."""
    match command:
        case SetConcurrency(n):
            controls.set_concurrency(n)
        case SetRate(rate):
            controls.set_rate(rate)
        case SetReuseMode(mode):
            controls.set_reuse_mode(mode)
        case SetHttpVersion(version):
            controls.set_http_version(version)
        case Pause():
            controls.pause()
        case Resume():
            controls.resume()
        case ResetStats():
            controls.reset_stats()
        case Stop():
            controls.stop()
        case Abort():
            controls.abort()
        case _:
            raise ControlError(f"not a control: {command!r}")


class CommandControls(ABC):
    """`Controls` that forward every call as a `Command` to `send`: a session in another
    process, a set of workers, a script. Subclasses say where a command goes."""

    @abstractmethod
    def send(self, command: Command) -> None:
        """Deliver `command`; ControlError when it cannot reach the session."""

    def set_concurrency(self, n: int) -> None:
        self.send(SetConcurrency(n))

    def set_rate(self, rate: float) -> None:
        self.send(SetRate(rate))

    def set_reuse_mode(self, mode: ReuseMode | str) -> None:
        self.send(SetReuseMode(ReuseMode(mode)))

    def set_http_version(self, version: HttpVersion | str) -> None:
        self.send(SetHttpVersion(HttpVersion(version)))

    def pause(self) -> None:
        self.send(Pause())

    def resume(self) -> None:
        self.send(Resume())

    def reset_stats(self) -> None:
        self.send(ResetStats())

    def stop(self) -> None:
        self.send(Stop())

    def abort(self) -> None:
        self.send(Abort())


def call_of(command: Command) -> tuple[str, tuple[object, ...]]:
    """The call `command` stands for: the `Controls` method's name and its arguments."""
    values = tuple(getattr(command, field) for field in command.__dataclass_fields__)
    return _NAMES[type(command)], values


def describe(command: Command) -> str:
    """`set_concurrency 20`, `pause`: a command as people read it in a message."""
    name, values = call_of(command)
    return " ".join([name, *(f"{value}" for value in values)])


_NAMES: dict[type, str] = {
    SetConcurrency: "set_concurrency",
    SetRate: "set_rate",
    SetReuseMode: "set_reuse_mode",
    SetHttpVersion: "set_http_version",
    Pause: "pause",
    Resume: "resume",
    ResetStats: "reset_stats",
    Stop: "stop",
    Abort: "abort",
}
