"""Compiling a syntax tree to nested closures, with expr-lang's runtime semantics.

Compilation happens once, at load; a compiled expression is a plain `fn(context)`. Names are
bound by a resolver the caller supplies (a runbook's scope, or a dict of numbers for thresholds),
so evaluating never looks anything up by string that could have been bound earlier. Constant
subtrees are folded at load. Values and operators are in `_values`; the functions a call may
name are in the `FUNCTIONS` table (`_functions`), filled by the `_builtins_*` modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _builtins_expr, _builtins_runn  # noqa: F401  (they fill FUNCTIONS)
from ._ast import (
    PREDICATES,
    ArrayLit,
    Binary,
    Call,
    Closure,
    Conditional,
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
from ._builtins_predicates import PREDICATE_ARGS, PREDICATE_FUNCTIONS
from ._errors import EvalError, ExpressionError
from ._functions import BASE_DIR, CALL_HOOKS, FUNCTIONS
from ._values import (
    BINARY,
    NUMBERS,
    PLAIN_MAPS,
    Compiled,
    Constant,
    Getter,
    MapGetter,
    as_bool,
    as_list,
    equal,
    fetch,
    regex,
    slice_of,
    type_name,
)

Resolver = Callable[[Name], "Getter | Constant"]


class _Failing:
    """A constant subtree that always fails: an error only if the expression can reach it."""

    __slots__ = ("message", "offset")

    def __init__(self, message: str, offset: int) -> None:
        self.message = message
        self.offset = offset

    def __call__(self, _ctx: Any) -> Any:
        raise EvalError(self.message)


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
            if type(o) in PLAIN_MAPS:
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
    fn = BINARY[op]
    if op == "matches" and isinstance(right, Constant) and isinstance(right.value, str):
        try:
            regex(right.value)
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
            first = as_bool(left.value, word)
        except EvalError as exc:
            return _Failing(str(exc), node.start)
        if word == "&&":
            return right if first else Constant(False)
        return Constant(True) if first else right
    get_left, get_right = left, _getter(right)
    if word == "&&":
        return lambda ctx: get_right(ctx) if as_bool(get_left(ctx), "&&") else False
    return lambda ctx: True if as_bool(get_left(ctx), "||") else get_right(ctx)


def _unary(node: Unary, resolve: Resolver) -> Compiled:
    operand = _compile(node.operand, resolve)
    if node.op in ("!", "not"):

        def negate(value: Any) -> bool:
            return not as_bool(value, node.op)

        fn: Callable[[Any], Any] = negate
    else:
        sign = -1 if node.op == "-" else 1

        def signed(value: Any) -> Any:
            if type(value) not in NUMBERS:
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
            return then if as_bool(cond.value, "?:") else otherwise
        except EvalError as exc:
            return _Failing(str(exc), node.start)
    get_cond, get_then, get_otherwise = cond, _getter(then), _getter(otherwise)
    return lambda ctx: get_then(ctx) if as_bool(get_cond(ctx), "?:") else get_otherwise(ctx)


def _call(node: Call, resolve: Resolver) -> Compiled:
    if node.func in PREDICATES and len(node.args) >= 2 and isinstance(node.args[1], Closure):
        return _predicate_call(node, resolve)
    spec = FUNCTIONS.get(node.func)
    if spec is None and node.func in PREDICATES:
        least, most = PREDICATE_ARGS.get(node.func, (2, 2))
        count = str(least) if least == most else f"{least} to {most}"
        raise ExpressionError(f"{node.func}() takes {count} argument(s)", node.start)
    if spec is None:
        raise ExpressionError(
            f"unknown function {node.func}()",
            node.start,
            "docs/expressions.md lists the supported functions",
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


def _predicate_call(node: Call, resolve: Resolver) -> Compiled:
    least, most = PREDICATE_ARGS.get(node.func, (2, 2))
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


def _slice_node(node: Slice, resolve: Resolver) -> Compiled:
    obj = _compile(node.obj, resolve)
    low = Constant(None) if node.low is None else _compile(node.low, resolve)
    high = Constant(None) if node.high is None else _compile(node.high, resolve)
    folded = _fold(node, slice_of, obj, low, high)
    if folded is not None:
        return folded
    get_obj, get_low, get_high = _getter(obj), _getter(low), _getter(high)
    return lambda ctx: slice_of(get_obj(ctx), get_low(ctx), get_high(ctx))


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
