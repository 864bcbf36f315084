"""Values as expressions see them, with expr-lang's runtime semantics: type names, equality,
member access, the operators, and conversion to text and to plain data.

A compiled expression is a `Getter` (a function of the evaluation context) or, when its value is
known at load, a `Constant`; both are defined here so that built-ins and the compiler share them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import EvalError
from ._times import go_duration, go_time

Getter = Callable[[Any], Any]
NUMBERS = (int, float)


class Constant:
    """A value known at load: a resolver may return one so that whole subtrees fold."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


class MapGetter:
    """A getter of a map made per evaluation (`runn`) whose members can be read one by one:
    `runn.i` compiles to the member's getter, with no map built."""

    __slots__ = ("members",)

    def __init__(self, members: dict[str, Getter]) -> None:
        self.members = members

    def __call__(self, ctx: Any) -> dict[str, Any]:
        return {name: getter(ctx) for name, getter in self.members.items()}


Compiled = Getter | Constant


# -- runtime helpers ------------------------------------------------------------------------------
def type_name(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, dt.datetime):
        return "time.Time"
    if isinstance(value, dt.timedelta):
        return "time.Duration"
    return type(value).__name__


def number_type(value: object) -> str:
    """`number` for ints and floats alike, else the type's name: what sorting compares."""
    return "number" if type(value) in NUMBERS else type_name(value)


def as_list(name: str, value: Any) -> list[Any] | tuple[Any, ...]:
    if isinstance(value, list | tuple):
        return value
    raise EvalError(f"invalid argument for {name} (type {type_name(value)}, not array)")


def equal(a: object, b: object) -> bool:
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta in NUMBERS and tb in NUMBERS:
        return a == b
    if ta is tb and ta in (str, bool):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if len(a) != len(b):
            return False
        return all(key in b and equal(value, b[key]) for key, value in a.items())
    if ta is tb and ta in (dt.datetime, dt.timedelta):
        return a == b
    return False


PLAIN_MAPS: set[type] = {dict}


def register_map_type(cls: type) -> None:
    """Let `fetch` call `cls.get` directly: for lazy views that behave like read-only dicts."""
    PLAIN_MAPS.add(cls)


def fetch(obj: Any, key: Any) -> Any:
    if type(obj) in PLAIN_MAPS:
        try:
            return obj.get(key)
        except TypeError:
            raise EvalError(f"cannot use {type_name(key)} as a map key") from None
    if isinstance(obj, list | tuple | str):
        return obj[_index(obj, key)]
    if isinstance(obj, Mapping):
        try:
            return obj.get(key)
        except TypeError:
            raise EvalError(f"cannot use {type_name(key)} as a map key") from None
    raise EvalError(f"cannot fetch {_show_key(key)} from {type_name(obj)}")


def _show_key(key: object) -> str:
    return key if isinstance(key, str) else repr(key)


def _index(seq: list[Any] | tuple[Any, ...] | str, key: object) -> int:
    if type(key) is float and key.is_integer():
        key = int(key)
    if type(key) is not int:
        raise EvalError(f"cannot index {type_name(seq)} with {type_name(key)}")
    size = len(seq)
    index = key + size if key < 0 else key
    if not 0 <= index < size:
        raise EvalError(f"index out of range: {key} (length {size})")
    return index


def slice_of(obj: object, low: object, high: object) -> object:
    if not isinstance(obj, list | tuple | str):
        raise EvalError(f"cannot slice {type_name(obj)}")
    size = len(obj)
    bounds = []
    for value, default in ((low, 0), (high, size)):
        if value is None:
            value = default
        if type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not int:
            raise EvalError(f"cannot slice with {type_name(value)}")
        if value < 0:
            value += size
        bounds.append(min(max(value, 0), size))
    start, stop = bounds
    return obj[start : max(start, stop)]


def as_bool(value: object, where: str) -> bool:
    if value is True or value is False:
        return value
    raise EvalError(f"{where} needs a bool, got {type_name(value)}")


def _numbers(op: str, a: object, b: object) -> None:
    if type(a) not in NUMBERS or type(b) not in NUMBERS:
        raise EvalError(f"invalid operation: {type_name(a)} {op} {type_name(b)}")


def _add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta in NUMBERS and tb in NUMBERS) or (ta is str and tb is str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    if isinstance(a, dt.datetime | dt.timedelta) and isinstance(b, dt.timedelta):
        return a + b
    if isinstance(a, dt.timedelta) and isinstance(b, dt.datetime):
        return b + a
    raise EvalError(f"invalid operation: {type_name(a)} + {type_name(b)}")


def _sub(a: Any, b: Any) -> Any:
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime | dt.timedelta):
        return a - b
    if isinstance(a, dt.timedelta) and isinstance(b, dt.timedelta):
        return a - b
    _numbers("-", a, b)
    return a - b


def _range(a: Any, b: Any) -> list[int]:
    if type(a) is not int or type(b) is not int:
        raise EvalError(f"invalid operation: {type_name(a)} .. {type_name(b)}")
    return list(range(a, b + 1))


def _mul(a: Any, b: Any) -> Any:
    _numbers("*", a, b)
    return a * b


def _div(a: Any, b: Any) -> float:
    _numbers("/", a, b)
    if b == 0:  # Go's float division: ±Inf or NaN, not an error
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a)
    return float(a / b)


def _mod(a: Any, b: Any) -> int:
    if type(a) is int and type(b) is int and a >= 0 and b > 0:
        return a % b  # the common case: `i % n`
    if type(a) is not int or type(b) is not int:
        raise EvalError(f"invalid operation: {type_name(a)} % {type_name(b)}")
    if b == 0:
        raise EvalError("integer divide by zero")
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder  # Go truncates toward zero


def _pow(a: Any, b: Any) -> float:
    _numbers("**", a, b)
    try:
        return float(math.pow(a, b))
    except (OverflowError, ValueError):
        return math.inf if a > 0 else math.nan


def _ordered(op: str) -> Callable[[Any, Any], bool]:
    compare: Callable[[Any, Any], bool] = {
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }[op]

    def ordered(a: Any, b: Any) -> bool:
        ta, tb = type(a), type(b)
        if (ta in NUMBERS and tb in NUMBERS) or (ta is str and tb is str):
            return compare(a, b)
        if ta is tb and ta in (dt.datetime, dt.timedelta):
            return compare(a, b)
        raise EvalError(f"invalid operation: {type_name(a)} {op} {type_name(b)}")

    return ordered


def _in(item: Any, container: Any) -> bool:
    if isinstance(container, list | tuple):
        return any(equal(item, element) for element in container)
    if isinstance(container, Mapping):
        try:
            return item in container
        except TypeError:
            return False
    raise EvalError(f"invalid operation: in {type_name(container)} (use contains for strings)")


def _strings(op: str) -> Callable[[Any, Any], bool]:
    test: Callable[[str, str], bool] = {
        "contains": lambda a, b: b in a,
        "startsWith": lambda a, b: a.startswith(b),
        "endsWith": lambda a, b: a.endswith(b),
    }[op]

    def strings(a: Any, b: Any) -> bool:
        if type(a) is not str or type(b) is not str:
            raise EvalError(f"invalid operation: {type_name(a)} {op} {type_name(b)}")
        return test(a, b)

    return strings


_PATTERNS: dict[str, re.Pattern[str]] = {}


def regex(pattern: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = re.compile(pattern)
        if len(_PATTERNS) < 256:
            _PATTERNS[pattern] = compiled
    return compiled


def _matches(a: Any, b: Any) -> bool:
    if type(a) is not str or type(b) is not str:
        raise EvalError(f"invalid operation: {type_name(a)} matches {type_name(b)}")
    try:
        return regex(b).search(a) is not None
    except re.error as exc:
        raise EvalError(f"invalid regular expression {b!r}: {exc}") from None


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add,
    "-": _sub,
    "*": _mul,
    "/": _div,
    "%": _mod,
    "**": _pow,
    "^": _pow,
    "==": equal,
    "!=": lambda a, b: not equal(a, b),
    "<": _ordered("<"),
    ">": _ordered(">"),
    "<=": _ordered("<="),
    ">=": _ordered(">="),
    "in": _in,
    "..": _range,
    "contains": _strings("contains"),
    "startsWith": _strings("startsWith"),
    "endsWith": _strings("endsWith"),
    "matches": _matches,
}


def to_string(value: Any) -> str:
    """`string(v)`: Go's formatting for scalars, JSON for arrays and maps."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, dt.datetime | dt.timedelta):
        return go_time(value) if isinstance(value, dt.datetime) else go_duration(value)
    return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False)


def format_float(value: float) -> str:
    """Like Go's strconv.FormatFloat(v, 'f', -1, 64) for ordinary numbers."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    return text


def plain(value: Any) -> Any:
    """Lazy views (responses, cookies) turned into dicts and lists, for JSON and templates."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds() * 1e9)  # Go marshals a Duration as nanoseconds
    return value
