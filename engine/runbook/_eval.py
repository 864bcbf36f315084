"""Compiling a syntax tree to nested closures, with expr-lang's runtime semantics.

Compilation happens once, at load; a compiled expression is a plain `fn(context)`. Names are
bound by a resolver the caller supplies (a runbook's scope, or a dict of numbers for thresholds),
so evaluating never looks anything up by string that could have been bound earlier. Constant
subtrees are folded at load.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._ast import (
    PREDICATES,
    ArrayLit,
    Binary,
    Call,
    Closure,
    Conditional,
    Frame,
    Let,
    LetRef,
    Literal,
    MapLit,
    Member,
    Name,
    Node,
    Pointer,
    Sequence,
    Slice,
    Unary,
)
from ._errors import EvalError, ExpressionError
from ._times import go_duration, go_time

Getter = Callable[[Any], Any]
Resolver = Callable[[Name], "Getter | Constant"]
_NUMBERS = (int, float)


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
    return "number" if type(value) in _NUMBERS else type_name(value)


def as_list(name: str, value: Any) -> list[Any] | tuple[Any, ...]:
    if isinstance(value, list | tuple):
        return value
    raise EvalError(f"invalid argument for {name} (type {type_name(value)}, not array)")


def equal(a: object, b: object) -> bool:
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta in _NUMBERS and tb in _NUMBERS:
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


_PLAIN_MAPS: set[type] = {dict}


def register_map_type(cls: type) -> None:
    """Let `fetch` call `cls.get` directly: for lazy views that behave like read-only dicts."""
    _PLAIN_MAPS.add(cls)


def fetch(obj: Any, key: Any) -> Any:
    if type(obj) in _PLAIN_MAPS:
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


def _slice(obj: object, low: object, high: object) -> object:
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


def _bool(value: object, where: str) -> bool:
    if value is True or value is False:
        return value
    raise EvalError(f"{where} needs a bool, got {type_name(value)}")


def _numbers(op: str, a: object, b: object) -> None:
    if type(a) not in _NUMBERS or type(b) not in _NUMBERS:
        raise EvalError(f"invalid operation: {type_name(a)} {op} {type_name(b)}")


def _add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta in _NUMBERS and tb in _NUMBERS) or (ta is str and tb is str):
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
        if (ta in _NUMBERS and tb in _NUMBERS) or (ta is str and tb is str):
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


def _regex(pattern: str) -> re.Pattern[str]:
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
        return _regex(b).search(a) is not None
    except re.error as exc:
        raise EvalError(f"invalid regular expression {b!r}: {exc}") from None


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
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


# -- built-in functions ---------------------------------------------------------------------------
def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise EvalError(f"invalid argument for len (type {type_name(value)})")


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


def _int(value: Any) -> int:
    if type(value) in _NUMBERS:
        if isinstance(value, float) and not math.isfinite(value):
            raise EvalError(f"invalid argument for int: {value}")
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise EvalError(f"invalid argument for int: {value!r}") from None
    raise EvalError(f"invalid argument for int (type {type_name(value)})")


def _float(value: Any) -> float:
    if type(value) in _NUMBERS:
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise EvalError(f"invalid argument for float: {value!r}") from None
    raise EvalError(f"invalid argument for float (type {type_name(value)})")


def _abs(value: Any) -> Any:
    if type(value) in _NUMBERS:
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


def _compare(a: Any, b: Any, *ignored: Any) -> bool:
    """runn's compare: ignore keys given one by one or as a list; a key anywhere (`id`), or a
    path from the top (`.user.id`)."""
    keys: list[Any] = []
    for item in ignored:
        keys += list(item) if isinstance(item, list | tuple) else [item]
    for key in keys:
        if not isinstance(key, str):
            raise EvalError(f"compare: an ignored key is a string, not {type_name(key)}")
    anywhere = {key for key in keys if not key.startswith(".")}
    paths = [tuple(part for part in key.split(".") if part) for key in keys if key.startswith(".")]
    if not keys:
        return equal(a, b)
    return equal(_without(a, anywhere, paths), _without(b, anywhere, paths))


def _without(value: Any, anywhere: set[str], paths: list[tuple[str, ...]]) -> Any:
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            if key in anywhere or (key,) in paths:
                continue
            below = [path[1:] for path in paths if len(path) > 1 and path[0] == key]
            kept[key] = _without(item, anywhere, below)
        return kept
    if isinstance(value, list | tuple):
        return [_without(item, anywhere, []) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    least: int  # arguments
    most: int
    fn: Callable[..., Any]
    pure: bool = True  # same arguments, same result: folded at load when they are constants


# Every function expressions may call, by name (`hash.Sha256` too); `_builtins` and `_runn`
# add expr-lang's and runn's.
FUNCTIONS: dict[str, FunctionSpec] = {
    "len": FunctionSpec(1, 1, _len),
    "string": FunctionSpec(1, 1, to_string),
    "int": FunctionSpec(1, 1, _int),
    "float": FunctionSpec(1, 1, _float),
    "abs": FunctionSpec(1, 1, _abs),
    "lower": FunctionSpec(1, 1, _string_function("lower", str.lower)),
    "upper": FunctionSpec(1, 1, _string_function("upper", str.upper)),
    "trim": FunctionSpec(1, 2, _string_function("trim", lambda s, chars=None: s.strip(chars))),
    "type": FunctionSpec(1, 1, type_name),
    "urlencode": FunctionSpec(1, 1, _string_function("urlencode", urllib.parse.quote_plus)),
    "compare": FunctionSpec(2, 64, _compare),
    "keys": FunctionSpec(1, 1, _mapping_function("keys", lambda m: list(m.keys()))),
    "values": FunctionSpec(1, 1, _mapping_function("values", lambda m: list(m.values()))),
}
# The directory of the runbook being compiled: runn's `file()` reads relative to it.
BASE_DIR: ContextVar[Path | None] = ContextVar("BASE_DIR", default=None)


# -- the compiler ---------------------------------------------------------------------------------
class MapGetter:
    """A getter of a map made per evaluation (`runn`) whose members can be read one by one:
    `runn.i` compiles to the member's getter, with no map built."""

    __slots__ = ("members",)

    def __init__(self, members: dict[str, Getter]) -> None:
        self.members = members

    def __call__(self, ctx: Any) -> dict[str, Any]:
        return {name: getter(ctx) for name, getter in self.members.items()}


class Constant:
    """A value known at load: a resolver may return one so that whole subtrees fold."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


class _Failing:
    """A constant subtree that always fails: an error only if the expression can reach it."""

    __slots__ = ("message", "offset")

    def __init__(self, message: str, offset: int) -> None:
        self.message = message
        self.offset = offset

    def __call__(self, _ctx: Any) -> Any:
        raise EvalError(self.message)


Compiled = Getter | Constant


def constant_of(node: Node, resolve: Resolver) -> Constant | None:
    """The expression's value if it is known at load (`included`, `true`, `1 > 2` ...)."""
    try:
        compiled = _compile(node, resolve)
    except ExpressionError:
        return None
    return compiled if isinstance(compiled, Constant) else None


def compile_tree(node: Node, resolve: Resolver, base_dir: Path | None = None) -> Getter:
    token = BASE_DIR.set(base_dir)
    try:
        compiled = _compile(node, resolve)
    finally:
        BASE_DIR.reset(token)
    if isinstance(compiled, _Failing):
        raise ExpressionError(compiled.message, compiled.offset)
    if isinstance(compiled, Constant):
        value = compiled.value
        return lambda _ctx: value
    return compiled


def _compile(node: Node, resolve: Resolver) -> Compiled:
    if isinstance(node, Literal):
        return Constant(node.value)
    if isinstance(node, Name):
        return resolve(node)
    if isinstance(node, Member):
        return _member(node, resolve)
    if isinstance(node, Binary):
        return _binary(node, resolve)
    if isinstance(node, Unary):
        return _unary(node, resolve)
    if isinstance(node, Conditional):
        return _conditional(node, resolve)
    if isinstance(node, Call):
        return _call(node, resolve)
    if isinstance(node, Slice):
        return _slice_node(node, resolve)
    if isinstance(node, ArrayLit):
        return _array(node, resolve)
    if isinstance(node, MapLit):
        return _map(node, resolve)
    if isinstance(node, Pointer):
        return _pointer(node)
    if isinstance(node, Let):
        return _let(node, resolve)
    if isinstance(node, LetRef):
        frame = node.let.frame
        return lambda _ctx: frame.element
    if isinstance(node, Sequence):
        return _sequence(node, resolve)
    raise ExpressionError(f"unsupported syntax {type(node).__name__}", node.start)


def _pointer(node: Pointer) -> Getter:
    frame = node.frame
    if node.name == "index":
        return lambda _ctx: frame.index
    if node.name == "acc":
        return lambda _ctx: frame.acc
    return lambda _ctx: frame.element


def _let(node: Let, resolve: Resolver) -> Compiled:
    value = _getter(_compile(node.value, resolve))
    body = _getter(_compile(node.body, resolve))
    frame = node.frame

    def let(ctx: Any) -> Any:
        frame.element = value(ctx)
        return body(ctx)

    return let


def _sequence(node: Sequence, resolve: Resolver) -> Compiled:
    getters = [_getter(_compile(part, resolve)) for part in node.nodes]

    def sequence(ctx: Any) -> Any:
        result = None
        for get in getters:
            result = get(ctx)
        return result

    return sequence


def _fold(node: Node, fn: Callable[..., Any], *parts: Compiled) -> Compiled | None:
    for part in parts:
        if isinstance(part, _Failing):
            return part
    if all(isinstance(part, Constant) for part in parts):
        try:
            return Constant(fn(*(part.value for part in parts)))  # type: ignore[union-attr]
        except EvalError as exc:
            return _Failing(str(exc), node.start)
    return None


def _getter(compiled: Compiled) -> Getter:
    if isinstance(compiled, Constant):
        value = compiled.value
        return lambda _ctx: value
    return compiled


def _member(node: Member, resolve: Resolver) -> Compiled:
    obj = _compile(node.obj, resolve)
    key = _compile(node.key, resolve)
    optional = node.optional
    folded = _fold(node, lambda o, k: None if (optional and o is None) else fetch(o, k), obj, key)
    if folded is not None:
        return folded
    if isinstance(obj, MapGetter) and isinstance(key, Constant) and key.value in obj.members:
        return obj.members[key.value]
    get_obj = _getter(obj)
    if isinstance(key, Constant):
        constant = key.value
        if optional:
            return lambda ctx: None if (o := get_obj(ctx)) is None else fetch(o, constant)

        def fetch_constant(ctx: Any) -> Any:
            o = get_obj(ctx)
            if type(o) in _PLAIN_MAPS:
                return o.get(constant)  # the common case, inlined (a str key is hashable)
            return fetch(o, constant)

        return fetch_constant
    get_key = _getter(key)
    if optional:
        return lambda ctx: None if (o := get_obj(ctx)) is None else fetch(o, get_key(ctx))
    return lambda ctx: fetch(get_obj(ctx), get_key(ctx))


def _binary(node: Binary, resolve: Resolver) -> Compiled:
    op = node.op
    left = _compile(node.left, resolve)
    right = _compile(node.right, resolve)
    if op in ("&&", "and", "||", "or", "??"):
        return _logic(node, op, left, right)
    fn = _BINARY[op]
    if op == "matches" and isinstance(right, Constant) and isinstance(right.value, str):
        try:
            _regex(right.value)
        except re.error as exc:
            raise ExpressionError(f"invalid regular expression: {exc}", node.right.start) from None
    folded = _fold(node, fn, left, right)
    if folded is not None:
        return folded
    get_left, get_right = _getter(left), _getter(right)
    if isinstance(right, Constant):
        constant = right.value
        if op == "==" and type(constant) in (int, str):
            kind = type(constant)
            # `status == 200`, `name == "x"`: skip the general comparison when types agree.
            return lambda ctx: (
                v == constant if type(v := get_left(ctx)) is kind else equal(v, constant)
            )
        return lambda ctx: fn(get_left(ctx), constant)
    return lambda ctx: fn(get_left(ctx), get_right(ctx))


def _logic(node: Binary, op: str, left: Compiled, right: Compiled) -> Compiled:
    if op == "??":
        if isinstance(left, _Failing):
            return left
        if isinstance(left, Constant):
            return right if left.value is None else left
        get_left, get_right = left, _getter(right)
        return lambda ctx: v if (v := get_left(ctx)) is not None else get_right(ctx)
    word = "&&" if op in ("&&", "and") else "||"
    if isinstance(left, _Failing):
        return left
    if isinstance(left, Constant):
        try:
            first = _bool(left.value, word)
        except EvalError as exc:
            return _Failing(str(exc), node.start)
        if word == "&&":
            return right if first else Constant(False)
        return Constant(True) if first else right
    get_left, get_right = left, _getter(right)
    if word == "&&":
        return lambda ctx: get_right(ctx) if _bool(get_left(ctx), "&&") else False
    return lambda ctx: True if _bool(get_left(ctx), "||") else get_right(ctx)


def _unary(node: Unary, resolve: Resolver) -> Compiled:
    operand = _compile(node.operand, resolve)
    if node.op in ("!", "not"):

        def negate(value: Any) -> bool:
            return not _bool(value, node.op)

        fn: Callable[[Any], Any] = negate
    else:
        sign = -1 if node.op == "-" else 1

        def signed(value: Any) -> Any:
            if type(value) not in _NUMBERS:
                raise EvalError(f"invalid operation: {node.op}{type_name(value)}")
            return value * sign

        fn = signed
    folded = _fold(node, fn, operand)
    if folded is not None:
        return folded
    get = _getter(operand)
    return lambda ctx: fn(get(ctx))


def _conditional(node: Conditional, resolve: Resolver) -> Compiled:
    cond = _compile(node.cond, resolve)
    then = cond if node.then is None else _compile(node.then, resolve)
    otherwise = _compile(node.otherwise, resolve)
    if isinstance(cond, _Failing):
        return cond
    if isinstance(cond, Constant):
        try:
            return then if _bool(cond.value, "?:") else otherwise
        except EvalError as exc:
            return _Failing(str(exc), node.start)
    get_cond, get_then, get_otherwise = cond, _getter(then), _getter(otherwise)
    return lambda ctx: get_then(ctx) if _bool(get_cond(ctx), "?:") else get_otherwise(ctx)


def _call(node: Call, resolve: Resolver) -> Compiled:
    if node.func in PREDICATES and len(node.args) >= 2 and isinstance(node.args[1], Closure):
        return _predicate_call(node, resolve)
    spec = FUNCTIONS.get(node.func)
    if spec is None and node.func in PREDICATES:
        least, most = _PREDICATE_ARGS.get(node.func, (2, 2))
        count = str(least) if least == most else f"{least} to {most}"
        raise ExpressionError(f"{node.func}() takes {count} argument(s)", node.start)
    if spec is None:
        raise ExpressionError(
            f"unknown function {node.func}()",
            node.start,
            "see the README's list of supported functions",
        )
    least, most, fn = spec.least, spec.most, spec.fn
    if not least <= len(node.args) <= most:
        count = str(least) if least == most else f"{least} to {most}"
        raise ExpressionError(f"{node.func}() takes {count} argument(s)", node.start)
    args = [_compile(arg, resolve) for arg in node.args]
    if node.func in CALL_HOOKS:
        args = CALL_HOOKS[node.func](node, args)
    folded = _fold(node, fn, *args) if spec.pure else None
    if folded is not None:
        return folded
    if not args:
        return lambda _ctx: fn()
    getters = [_getter(arg) for arg in args]
    if len(getters) == 1:
        only = getters[0]
        return lambda ctx: fn(only(ctx))
    return lambda ctx: fn(*(get(ctx) for get in getters))


# Compile-time checks of some calls: (the call, its compiled arguments) -> the arguments to use.
CALL_HOOKS: dict[str, Callable[[Call, list[Compiled]], list[Compiled]]] = {}

# predicate function -> (least, most) arguments, the predicate included
_PREDICATE_ARGS = {"count": (1, 2), "sum": (1, 2), "sortBy": (2, 3), "reduce": (2, 3)}


def _predicate_call(node: Call, resolve: Resolver) -> Compiled:
    least, most = _PREDICATE_ARGS.get(node.func, (2, 2))
    if not least <= len(node.args) <= most:
        count = str(least) if least == most else f"{least} to {most}"
        raise ExpressionError(f"{node.func}() takes {count} argument(s)", node.start)
    closure = node.args[1]
    assert isinstance(closure, Closure)
    items = _getter(_compile(node.args[0], resolve))
    body = _getter(_compile(closure.body, resolve))
    extra = [_getter(_compile(arg, resolve)) for arg in node.args[2:]]
    run = PREDICATE_FUNCTIONS[node.func]
    frame, name = closure.frame, node.func

    def call(ctx: Any) -> Any:
        def apply(element: Any, index: int) -> Any:
            frame.element, frame.index = element, index
            return body(ctx)

        return run(as_list(name, items(ctx)), apply, frame, *(get(ctx) for get in extra))

    return call


Apply = Callable[[Any, int], Any]
Elements = list[Any] | tuple[Any, ...]


def _truth(name: str, value: Any) -> bool:
    if value is True or value is False:
        return value
    raise EvalError(f"{name}: the predicate gives {type_name(value)}, not bool")


def _results(name: str, elements: Elements, apply: Apply) -> Iterator[tuple[Any, bool]]:
    for index, element in enumerate(elements):
        yield element, _truth(name, apply(element, index))


def _all(elements: Elements, apply: Apply, _frame: Frame) -> bool:
    return all(ok for _, ok in _results("all", elements, apply))


def _any(elements: Elements, apply: Apply, _frame: Frame) -> bool:
    return any(ok for _, ok in _results("any", elements, apply))


def _none(elements: Elements, apply: Apply, _frame: Frame) -> bool:
    return not any(ok for _, ok in _results("none", elements, apply))


def _one(elements: Elements, apply: Apply, _frame: Frame) -> bool:
    return sum(ok for _, ok in _results("one", elements, apply)) == 1


def _count(elements: Elements, apply: Apply, _frame: Frame) -> int:
    return sum(ok for _, ok in _results("count", elements, apply))


def _sum(elements: Elements, apply: Apply, _frame: Frame) -> Any:
    total: Any = 0
    for index, element in enumerate(elements):
        value = apply(element, index)
        if type(value) not in _NUMBERS:
            raise EvalError(f"sum: cannot add {type_name(value)}")
        total += value
    return total


def _filter(elements: Elements, apply: Apply, _frame: Frame) -> list[Any]:
    return [element for element, ok in _results("filter", elements, apply) if ok]


def _map_items(elements: Elements, apply: Apply, _frame: Frame) -> list[Any]:
    return [apply(element, index) for index, element in enumerate(elements)]


def _find_index(elements: Elements, apply: Apply, _frame: Frame) -> int:
    for index, (_, ok) in enumerate(_results("findIndex", elements, apply)):
        if ok:
            return index
    return -1


def _find(elements: Elements, apply: Apply, frame: Frame) -> Any:
    index = _find_index(elements, apply, frame)
    return elements[index] if index >= 0 else None


def _find_last_index(elements: Elements, apply: Apply, _frame: Frame) -> int:
    for index in range(len(elements) - 1, -1, -1):
        if _truth("findLastIndex", apply(elements[index], index)):
            return index
    return -1


def _find_last(elements: Elements, apply: Apply, frame: Frame) -> Any:
    index = _find_last_index(elements, apply, frame)
    return elements[index] if index >= 0 else None


def _group_by(elements: Elements, apply: Apply, _frame: Frame) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for index, element in enumerate(elements):
        key = apply(element, index)
        if isinstance(key, list | dict):
            raise EvalError(f"groupBy: cannot group by {type_name(key)}")
        groups.setdefault(key, []).append(element)
    return groups


def _sort_by(elements: Elements, apply: Apply, _frame: Frame, order: Any = "asc") -> list[Any]:
    if order not in ("asc", "desc"):
        raise EvalError(f"sortBy: unknown order {order!r} (asc or desc)")
    pairs = [(element, apply(element, index)) for index, element in enumerate(elements)]
    kinds = {number_type(key) for _, key in pairs}
    if kinds - {"number", "string"} or len(kinds) > 1:
        raise EvalError(f"sortBy: cannot compare {', '.join(sorted(kinds))}")
    pairs.sort(key=lambda pair: pair[1], reverse=order == "desc")
    return [element for element, _ in pairs]


_NO_INITIAL = object()


def _reduce(elements: Elements, apply: Apply, frame: Frame, initial: Any = _NO_INITIAL) -> Any:
    """`#acc` starts at `initial`, else at the first element (and the rest are folded in)."""
    start = 0
    if initial is _NO_INITIAL:
        if not elements:
            raise EvalError("reduce of an empty array with no initial value")
        initial, start = elements[0], 1
    frame.acc = initial
    for index in range(start, len(elements)):
        frame.acc = apply(elements[index], index)
    return frame.acc


PREDICATE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "all": _all, "any": _any, "none": _none, "one": _one, "count": _count, "sum": _sum,
    "filter": _filter, "map": _map_items, "find": _find, "findIndex": _find_index,
    "findLast": _find_last, "findLastIndex": _find_last_index, "groupBy": _group_by,
    "sortBy": _sort_by, "reduce": _reduce,
}  # fmt: skip


def _slice_node(node: Slice, resolve: Resolver) -> Compiled:
    obj = _compile(node.obj, resolve)
    low = Constant(None) if node.low is None else _compile(node.low, resolve)
    high = Constant(None) if node.high is None else _compile(node.high, resolve)
    folded = _fold(node, _slice, obj, low, high)
    if folded is not None:
        return folded
    get_obj, get_low, get_high = _getter(obj), _getter(low), _getter(high)
    return lambda ctx: _slice(get_obj(ctx), get_low(ctx), get_high(ctx))


def _array(node: ArrayLit, resolve: Resolver) -> Compiled:
    items = [_compile(item, resolve) for item in node.items]
    if all(isinstance(item, Constant) for item in items):
        values = [item.value for item in items]  # type: ignore[union-attr]
        return lambda _ctx: list(values)  # a fresh list: bind may append to it
    getters = [_getter(item) for item in items]
    return lambda ctx: [get(ctx) for get in getters]


def _map(node: MapLit, resolve: Resolver) -> Compiled:
    pairs = [(_compile(k, resolve), _compile(v, resolve)) for k, v in node.pairs]
    for (key, _), (key_node, _) in zip(pairs, node.pairs, strict=True):
        if isinstance(key, Constant) and not isinstance(key.value, str | int | float):
            raise ExpressionError("a map key must be a string or a number", key_node.start)
    getters = [(_getter(k), _getter(v)) for k, v in pairs]

    def build(ctx: Any) -> dict[Any, Any]:
        result = {}
        for get_key, get_value in getters:
            key = get_key(ctx)
            if not isinstance(key, str | int | float) or isinstance(key, bool):
                raise EvalError(f"a map key must be a string or a number, not {type_name(key)}")
            result[key] = get_value(ctx)
        return result

    return build
