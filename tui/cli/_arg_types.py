"""argparse value types that give one-line errors, and the bounds the parser enforces."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_VUS = 2**31 - 1  # an outer bound; the machine's limits (open files, ports) refuse far less
MAX_RATE = 1_000_000.0  # iterations per second
MAX_PORT = 65_535


def whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], or a one-line error naming the range."""

    def parse(text: str) -> int:
        value = int(text.strip())  # ValueError: argparse says "invalid int value"
        if value > high:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is more than the maximum {high:,}")
        if value < low:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is less than the minimum {low:,}")
        return value

    parse.__name__ = "int"
    return parse


def finite(high: float) -> Callable[[str], float]:
    """An argparse type: a finite number up to `high` (NaN and infinity are typos)."""

    def parse(text: str) -> float:
        value = float(text.strip())  # ValueError: argparse says "invalid float value"
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not a finite number")
        if value > high:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is more than the maximum {high:,g}")
        return value

    parse.__name__ = "float"
    return parse


def _shown(text: str) -> str:
    """A value as an error message quotes it: at most 40 characters."""
    return repr(text if len(text) <= 40 else text[:37] + "...")
