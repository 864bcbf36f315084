"""Durations as runn and k6 users write them: `500ms`, `10s`, `10sec`, `1min`, `1m30s`, `2h`."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}
MAX_DURATION = 30 * 86400.0  # 30 days: beyond it a duration is a typo, not a plan
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Zµ]+)")


class DurationError(ValueError):
    pass


def parse_duration(text: str | int | float) -> float:
    """Seconds in `text`. A bare number is seconds; at most 30 days, a finite number.
    Raises DurationError with a hint."""
    seconds = _seconds(text)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise DurationError(f"{text!r} is not a finite duration (try 10s, 10sec, 500ms, 1m30s)")
    if seconds > MAX_DURATION:
        raise DurationError(f"{text!r} is longer than the maximum of 30 days (720h)")
    return seconds


def _seconds(text: str | int | float) -> float:
    if isinstance(text, bool):
        raise DurationError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise DurationError(f"a duration cannot be negative: {text}")
        return float(text)
    value = text.strip()
    if not value:
        raise DurationError("empty duration (try 10s, 500ms, 1m30s)")
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if number < 0:
            raise DurationError(f"a duration cannot be negative: {text}")
        return number
    total, position = 0.0, 0
    for match in _PART.finditer(value):
        if value[position : match.start()].strip():
            break
        unit = match.group(2)
        if unit not in _UNITS:
            raise DurationError(f"unknown unit {unit!r} in duration {text!r} (use ms, s, m, h)")
        total += float(match.group(1)) * _UNITS[unit]
        position = match.end()
    if position != len(value) or position == 0:
        raise DurationError(f"not a duration: {text!r} (try 10s, 10sec, 500ms, 1m30s)")
    return total


def format_seconds(seconds: float) -> str:
    """Compact, for displays: 0.5s, 10s, 1m30s, 2h5m."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}h" if hours else ""
    text += f"{minutes}m" if minutes else ""
    text += f"{secs}s" if secs else ""
    return text


def go_duration(seconds: float) -> str:
    """A duration as runn prints it (Go's `time.Duration.String()`): 5s, 1m30s, 1h0m0s, 500ms."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{_go_fraction(ns / size)}{unit}"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{_go_fraction(rest / 1e9)}s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


def _go_fraction(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")
