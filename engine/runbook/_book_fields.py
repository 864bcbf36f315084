"""Readers of single runbook YAML fields (flags, strings, durations, expressions), shared by the
parts of the runbook parser; each raises RunbookError with the field's location."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable

from ..durations import DurationError, parse_duration
from ._errors import Location, RunbookError
from ._yaml import YMap, YNode, YScalar, YSeq, kind_of, plain

Warn = Callable[[Location, str], None]

_MSEC = re.compile(r"(\d)\s*([mu])secs?\b")


def close_key(word: str, known: Iterable[str]) -> str | None:
    """The known key `word` is probably a typo of (`tset` -> `test`), or None."""
    matches = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """ " (did you mean `test`?)" for a likely typo, else ""."""
    match = close_key(word, known)
    return f" (did you mean `{match}`?)" if match else ""


def absent(node: YNode | None) -> bool:
    """Not there, or `key:` / `key: null` (callers also test `is None`, for the type checker)."""
    return node is None or (isinstance(node, YScalar) and node.value is None)


def string_list(node: YNode | None, what: str) -> list[str]:
    if node is None or absent(node):
        return []
    if isinstance(node, YScalar):
        return [str(node.value)]
    if isinstance(node, YSeq):
        return [str(plain(item)) for item in node.items]
    raise RunbookError(node.location, f"`{what}` is a string or a list, not {kind_of(node)}")


def optional_string(node: YMap, key: str) -> str | None:
    value = node.get(key)
    if value is None or absent(value):
        return None
    if not isinstance(value, YScalar) or isinstance(value.value, bool):
        raise RunbookError(value.location, f"`{key}` is a string, not {kind_of(value)}")
    return str(value.value)


def flag(node: YMap, key: str) -> bool:
    value = node.get(key)
    if value is None or absent(value):
        return False
    if not isinstance(value, YScalar) or not isinstance(value.value, bool):
        raise RunbookError(value.location, f"`{key}` is true or false, not {kind_of(value)}")
    return value.value


def duration(node: YNode | None, what: str) -> float | None:
    if node is None or absent(node):
        return None
    if not isinstance(node, YScalar) or isinstance(node.value, bool):
        raise RunbookError(node.location, f"`{what}` is a duration, not {kind_of(node)}")
    value = node.value
    if isinstance(value, str):  # runn also accepts `10msec`
        value = _MSEC.sub(lambda m: m.group(1) + ("ms" if m.group(2) == "m" else "us"), value)
    try:
        seconds = parse_duration(value)
    except DurationError as exc:
        raise RunbookError(node.location, f"invalid `{what}`: {exc}") from None
    if not math.isfinite(seconds):
        raise RunbookError(node.location, f"invalid `{what}`: {value!r} is not a finite duration")
    return seconds


def expression_node(node: YNode | None, what: str) -> YScalar | None:
    if node is None or absent(node):
        return None
    if isinstance(node, YScalar) and isinstance(node.value, bool):
        return node  # `if: false`: a constant
    if not isinstance(node, YScalar) or not isinstance(node.value, str):
        raise RunbookError(node.location, f"`{what}` is an expression, not {kind_of(node)}")
    return node


def number(node: YNode | None, what: str, default: float) -> float:
    if node is None:
        return default
    if (
        isinstance(node, YScalar)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return float(node.value)
    raise RunbookError(node.location, f"`{what}` is a number, not {kind_of(node)}")
