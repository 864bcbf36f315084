"""expr-lang's built-in functions, as runn's expressions call them.

Each is registered in `FUNCTIONS` (`_functions`) with its argument counts and whether it is pure;
pure functions of constant arguments are folded at load. The predicate built-ins (map, filter ...)
take a closure and live in `_builtins_predicates`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import statistics
from collections.abc import Callable, Mapping
from typing import Any

from ..durations import DurationError, parse_duration
from ._errors import EvalError
from ._functions import register
from ._times import parse_time
from ._values import NUMBERS, as_list, equal, number_type, plain, to_string, type_name


# -- conversion and the basics --------------------------------------------------------------------
@register("len", 1, 1)
def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise EvalError(f"invalid argument for len (type {type_name(value)})")


register("string", 1, 1)(to_string)
register("type", 1, 1)(type_name)


@register("int", 1, 1)
def _int(value: Any) -> int:
    if type(value) in NUMBERS:
        if isinstance(value, float) and not math.isfinite(value):
            raise EvalError(f"invalid argument for int: {value}")
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise EvalError(f"invalid argument for int: {value!r}") from None
    raise EvalError(f"invalid argument for int (type {type_name(value)})")


@register("float", 1, 1)
def _float(value: Any) -> float:
    if type(value) in NUMBERS:
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise EvalError(f"invalid argument for float: {value!r}") from None
    raise EvalError(f"invalid argument for float (type {type_name(value)})")


@register("abs", 1, 1)
def _abs(value: Any) -> Any:
    if type(value) in NUMBERS:
        return abs(value)
    raise EvalError(f"invalid argument for abs (type {type_name(value)})")


def _string_function(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(value: Any, *rest: Any) -> Any:
        if not isinstance(value, str) or not all(isinstance(r, str) for r in rest):
            raise EvalError(f"invalid argument for {name} (type {type_name(value)})")
        return fn(value, *rest)

    return call


def _mapping_function(
    name: str, fn: Callable[[Mapping[Any, Any]], list[Any]]
) -> Callable[..., Any]:
    def call(value: Any) -> list[Any]:
        if not isinstance(value, Mapping):
            raise EvalError(f"invalid argument for {name} (type {type_name(value)})")
        return fn(value)

    return call


register("lower", 1, 1)(_string_function("lower", str.lower))
register("upper", 1, 1)(_string_function("upper", str.upper))
register("trim", 1, 2)(_string_function("trim", lambda s, chars=None: s.strip(chars)))
register("keys", 1, 1)(_mapping_function("keys", lambda m: list(m.keys())))
register("values", 1, 1)(_mapping_function("values", lambda m: list(m.values())))


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise EvalError(f"invalid argument for {name} (type {type_name(value)})")
    return value


def _int_arg(name: str, value: Any) -> int:
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int:
        raise EvalError(f"invalid argument for {name} (type {type_name(value)})")
    return int(value)


def _number(name: str, value: Any) -> int | float:
    if type(value) not in NUMBERS:
        raise EvalError(f"invalid argument for {name} (type {type_name(value)})")
    return value  # type: ignore[no-any-return]


# -- numbers --------------------------------------------------------------------------------------
@register("ceil", 1, 1)
def _ceil(value: Any) -> float:
    return float(math.ceil(_number("ceil", value)))


@register("floor", 1, 1)
def _floor(value: Any) -> float:
    return float(math.floor(_number("floor", value)))


@register("round", 1, 1)
def _round(value: Any) -> float:
    number = _number("round", value)
    return float(math.floor(abs(number) + 0.5)) * (1 if number >= 0 else -1)  # Go rounds half away


def _numbers_of(name: str, args: tuple[Any, ...]) -> list[int | float]:
    values: list[Any] = []
    for arg in args:
        values += arg if isinstance(arg, list | tuple) else [arg]
    for value in values:
        if type(value) not in NUMBERS:
            raise EvalError(f"invalid argument for {name} (type {type_name(value)})")
    return values


@register("sum", 1, 1)
def _sum(items: Any) -> Any:
    total: Any = 0
    for value in as_list("sum", items):
        if type(value) not in NUMBERS:
            raise EvalError(f"sum: cannot add {type_name(value)}")
        total += value
    return total


@register("count", 1, 1)
def _count(items: Any) -> int:
    values = as_list("count", items)
    if not all(value is True or value is False for value in values):
        raise EvalError("count: without a predicate, the items are bools")
    return sum(1 for value in values if value is True)


@register("max", 1, 64)
def _max(*args: Any) -> Any:
    values = _numbers_of("max", args)
    return max(values) if values else None


@register("min", 1, 64)
def _min(*args: Any) -> Any:
    values = _numbers_of("min", args)
    return min(values) if values else None


@register("mean", 1, 64)
def _mean(*args: Any) -> float:
    values = _numbers_of("mean", args)
    return float(statistics.fmean(values)) if values else 0.0


@register("median", 1, 64)
def _median(*args: Any) -> float:
    values = _numbers_of("median", args)
    return float(statistics.median(values)) if values else 0.0


# -- strings --------------------------------------------------------------------------------------
@register("trimPrefix", 2, 2)
def _trim_prefix(text: Any, prefix: Any) -> str:
    return _string("trimPrefix", text).removeprefix(_string("trimPrefix", prefix))


@register("trimSuffix", 2, 2)
def _trim_suffix(text: Any, suffix: Any) -> str:
    return _string("trimSuffix", text).removesuffix(_string("trimSuffix", suffix))


@register("hasPrefix", 2, 2)
def _has_prefix(text: Any, prefix: Any) -> bool:
    return _string("hasPrefix", text).startswith(_string("hasPrefix", prefix))


@register("hasSuffix", 2, 2)
def _has_suffix(text: Any, suffix: Any) -> bool:
    return _string("hasSuffix", text).endswith(_string("hasSuffix", suffix))


@register("split", 2, 3)
def _split(text: Any, separator: Any, limit: Any = -1) -> list[str]:
    whole, sep = _string("split", text), _string("split", separator)
    count = _int_arg("split", limit)
    if count == 0:
        return []
    if sep == "":
        chars = list(whole)
        return chars if count < 0 else [*chars[: count - 1], "".join(chars[count - 1 :])]
    return whole.split(sep, -1 if count < 0 else count - 1)


@register("splitAfter", 2, 3)
def _split_after(text: Any, separator: Any, limit: Any = -1) -> list[str]:
    parts: list[str] = _split(text, separator, limit)
    sep = _string("splitAfter", separator)
    return [part + sep for part in parts[:-1]] + parts[-1:]


@register("replace", 3, 3)
def _replace(text: Any, old: Any, new: Any) -> str:
    return _string("replace", text).replace(_string("replace", old), _string("replace", new))


@register("repeat", 2, 2)
def _repeat(text: Any, count: Any) -> str:
    times = _int_arg("repeat", count)
    if times < 0:
        raise EvalError("repeat: negative count")
    return _string("repeat", text) * times


@register("indexOf", 2, 2)
def _index_of(text: Any, part: Any) -> int:
    return _string("indexOf", text).find(_string("indexOf", part))


@register("lastIndexOf", 2, 2)
def _last_index_of(text: Any, part: Any) -> int:
    return _string("lastIndexOf", text).rfind(_string("lastIndexOf", part))


@register("join", 1, 2)
def _join(items: Any, separator: Any = "") -> str:
    values = as_list("join", items)
    return _string("join", separator).join(_string("join", item) for item in values)


# -- encodings ------------------------------------------------------------------------------------
@register("toJSON", 1, 1)
def _to_json(value: Any) -> str:
    return json.dumps(plain(value), indent=2, sort_keys=True, ensure_ascii=False)


@register("fromJSON", 1, 1)
def _from_json(text: Any) -> Any:
    try:
        return json.loads(_string("fromJSON", text))
    except ValueError as exc:
        raise EvalError(f"fromJSON: {exc}") from None


@register("toBase64", 1, 1)
def _to_base64(text: Any) -> str:
    return base64.b64encode(_string("toBase64", text).encode()).decode("ascii")


@register("fromBase64", 1, 1)
def _from_base64(text: Any) -> str:
    try:
        return base64.b64decode(_string("fromBase64", text), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise EvalError(f"fromBase64: {exc}") from None


# -- arrays and maps ------------------------------------------------------------------------------
@register("first", 1, 1)
def _first(items: Any) -> Any:
    values = as_list("first", items)
    return values[0] if values else None


@register("last", 1, 1)
def _last(items: Any) -> Any:
    values = as_list("last", items)
    return values[-1] if values else None


@register("take", 2, 2)
def _take(items: Any, count: Any) -> list[Any]:
    return list(as_list("take", items)[: max(_int_arg("take", count), 0)])


@register("get", 2, 2)
def _get(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        try:
            return container.get(key)
        except TypeError:
            return None
    if isinstance(container, list | tuple | str) and type(key) is int:
        return container[key] if -len(container) <= key < len(container) else None
    return None


@register("toPairs", 1, 1)
def _to_pairs(value: Any) -> list[list[Any]]:
    if not isinstance(value, Mapping):
        raise EvalError(f"invalid argument for toPairs (type {type_name(value)})")
    return [[key, item] for key, item in value.items()]


@register("fromPairs", 1, 1)
def _from_pairs(pairs: Any) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for pair in as_list("fromPairs", pairs):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise EvalError("fromPairs: each item is a [key, value] pair")
        result[pair[0]] = pair[1]
    return result


@register("reverse", 1, 1)
def _reverse(items: Any) -> list[Any]:
    return list(reversed(as_list("reverse", items)))


@register("uniq", 1, 1)
def _uniq(items: Any) -> list[Any]:
    unique: list[Any] = []
    for item in as_list("uniq", items):
        if not any(equal(item, seen) for seen in unique):
            unique.append(item)
    return unique


@register("concat", 1, 64)
def _concat(*arrays: Any) -> list[Any]:
    joined: list[Any] = []
    for array in arrays:
        joined += as_list("concat", array)
    return joined


@register("flatten", 1, 1)
def _flatten(items: Any) -> list[Any]:
    flat: list[Any] = []
    for item in as_list("flatten", items):
        flat += _flatten(item) if isinstance(item, list | tuple) else [item]
    return flat


def sort_key(name: str, values: list[Any]) -> Callable[[Any], Any]:
    kinds = {number_type(value) for value in values}
    if kinds - {"number", "string"} or len(kinds) > 1:
        raise EvalError(f"{name}: cannot compare {', '.join(sorted(kinds))}")
    return lambda value: value


@register("sort", 1, 2)
def _sort(items: Any, order: Any = "asc") -> list[Any]:
    values = list(as_list("sort", items))
    if order not in ("asc", "desc"):
        raise EvalError(f"sort: unknown order {order!r} (asc or desc)")
    return sorted(values, key=sort_key("sort", values), reverse=order == "desc")


# -- bits -----------------------------------------------------------------------------------------
def _bits(name: str, fn: Callable[[int, int], int]) -> None:
    register(name, 2, 2)(lambda a, b: fn(_int_arg(name, a), _int_arg(name, b)))


_bits("bitand", lambda a, b: a & b)
_bits("bitor", lambda a, b: a | b)
_bits("bitxor", lambda a, b: a ^ b)
_bits("bitnand", lambda a, b: a & ~b)
_bits("bitshl", lambda a, b: a << b)
_bits("bitshr", lambda a, b: a >> b)
_bits("bitushr", lambda a, b: (a % (1 << 64)) >> b)
register("bitnot", 1, 1)(lambda a: ~_int_arg("bitnot", a))


# -- time -----------------------------------------------------------------------------------------
@register("now", 0, 0, pure=False)
def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).astimezone()


@register("duration", 1, 1)
def _duration(text: Any) -> dt.timedelta:
    value = _string("duration", text)
    negative = value.startswith("-")
    try:
        seconds = parse_duration(value.lstrip("-+"))
    except DurationError as exc:
        raise EvalError(f"duration: {exc}") from None
    return dt.timedelta(seconds=-seconds if negative else seconds)


# Go's reference layout pieces, longest first, and what strftime calls them.
_GO_LAYOUT = (
    ("2006", "%Y"), ("January", "%B"), ("Monday", "%A"), ("Z07:00", "%z"), ("-07:00", "%z"),
    ("-0700", "%z"), ("MST", "%Z"), ("Jan", "%b"), ("Mon", "%a"), ("01", "%m"), ("02", "%d"),
    ("15", "%H"), ("03", "%I"), ("04", "%M"), ("05", "%S"), ("PM", "%p"), ("06", "%y"),
    (".000000", ".%f"), (".000", ".%f"),
)  # fmt: skip


def _strptime_format(layout: str) -> str:
    result, position = "", 0
    while position < len(layout):
        for piece, directive in _GO_LAYOUT:
            if layout.startswith(piece, position):
                result += directive
                position += len(piece)
                break
        else:
            result += layout[position].replace("%", "%%")
            position += 1
    return result


@register("date", 1, 3)
def _date(text: Any, layout: Any = None, zone: Any = None) -> dt.datetime:
    value = _string("date", text)
    try:
        if layout is None:
            parsed = parse_time(value)
        else:
            parsed = dt.datetime.strptime(value, _strptime_format(_string("date", layout)))
    except ValueError as exc:
        raise EvalError(f"date: cannot parse {value!r}: {exc}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if zone is not None:
        parsed = parsed.astimezone(_zone(_string("date", zone)))
    return parsed


def _zone(name: str) -> dt.tzinfo:
    if name in ("UTC", "Z"):
        return dt.UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise EvalError(f"unknown time zone {name!r}") from None


@register("timezone", 1, 1)
def _timezone(name: Any) -> str:
    _zone(_string("timezone", name))
    return str(name)


__all__ = ["register"]
