"""runn's `--var key:value`: typed as runn types it, set on every runbook runn is given (and
those they need), a dotted key setting a nested var."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._book import read_var_file
from ._errors import Location

_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9.]+")


def parse_var_value(text: str) -> Any:
    """A `--var key:value` value as runn types it: an int, a float, else the string."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        try:
            return float(text)
        except ValueError:
            pass
    return text


def apply_vars(
    base: Mapping[str, Any], overrides: Mapping[str, object], directory: Path
) -> dict[str, Any]:
    """`base` with `--var` values set; a dotted key (`user.name`) sets a nested var."""
    merged: dict[str, Any] = dict(base)
    for key, raw in overrides.items():
        value: Any = parse_var_value(raw) if isinstance(raw, str) else raw
        if isinstance(value, str):
            value = read_var_file(value, directory, Location(f"--var {key}"))
        *parents, last = key.split(".")
        target = merged
        for part in parents:
            child = target.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            target[part] = child
            target = child
        target[last] = value
    return merged
