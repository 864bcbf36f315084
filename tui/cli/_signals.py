"""Ctrl-C and SIGTERM from the first instant: installed before the heavy imports, a signal only
marks the process interrupted; the command then stops before (or as soon as) its load starts,
writes its report and exits 130. Standard library only, so it is cheap to import."""

from __future__ import annotations

import signal
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Interrupts:
    count = 0


def _mark(signum: int, frame: FrameType | None) -> None:
    _Interrupts.count += 1


def install() -> None:
    """Signals mark the process interrupted instead of raising or killing it."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _mark)


def interrupted() -> bool:
    return _Interrupts.count > 0


def reset() -> None:
    """For a process that runs several commands (tests): forget an earlier interrupt."""
    _Interrupts.count = 0


def _raise(signum: int, frame: FrameType | None) -> None:
    _Interrupts.count += 1
    raise KeyboardInterrupt


def raise_from_now() -> None:
    """For commands that stop on KeyboardInterrupt (watch, target): a signal that came while
    starting stops them now, and later ones raise it, SIGTERM too."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise)
    if interrupted():
        raise KeyboardInterrupt
