"""Expressions as values: parse once, evaluate many times, explain why one is not true.

`compile_expression("error_rate < 1 && p99 < 200")` is what `--threshold` uses; runbooks compile
the same language against their own scope (see `_scope`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._ast import (
    ArrayLit,
    Binary,
    Call,
    Closure,
    Conditional,
    Let,
    MapLit,
    Member,
    Name,
    Node,
    Sequence,
    Slice,
    Unary,
)
from ._errors import EvalError, ExpressionError, Location, RunbookError, one_line
from ._expr_compiler import compile_tree
from ._parser import parse
from ._values import Getter, to_string


def walk(node: Node) -> Iterator[Node]:
    yield node
    children: list[Node | None] = []
    if isinstance(node, Member):
        children = [node.obj, node.key]
    elif isinstance(node, Slice):
        children = [node.obj, node.low, node.high]
    elif isinstance(node, Call | ArrayLit):
        children = list(node.args if isinstance(node, Call) else node.items)
    elif isinstance(node, Unary):
        children = [node.operand]
    elif isinstance(node, Binary):
        children = [node.left, node.right]
    elif isinstance(node, Conditional):
        children = [node.cond, node.then, node.otherwise]
    elif isinstance(node, MapLit):
        children = [part for pair in node.pairs for part in pair]
    elif isinstance(node, Closure):
        children = [node.body]
    elif isinstance(node, Let):
        children = [node.value, node.body]
    elif isinstance(node, Sequence):
        children = list(node.nodes)
    for child in children:
        if child is not None:
            yield from walk(child)


def names_in(node: Node) -> frozenset[str]:
    """The variables an expression reads (function names are not variables)."""
    return frozenset(n.name for n in walk(node) if isinstance(n, Name))


class Expression:
    """A compiled expression over a mapping of values: `expr.evaluate({"p99": 312.4})`."""

    def __init__(self, source: str, tree: Node) -> None:
        self.source = source
        self.tree = tree
        self.names = names_in(tree)
        self._fn: Getter = compile_tree(tree, _lookup)

    def evaluate(self, values: Mapping[str, object]) -> object:
        """The expression's value; raises `EvalError` when it fails (a type mismatch ...)."""
        return self._fn(values)

    def is_true(self, values: Mapping[str, object]) -> bool:
        try:
            return self._fn(values) is True
        except EvalError:
            return False

    def terms(self) -> list[str]:
        """The source of each term joined by `&&` at the top: `a < 1 && b < 2` -> both."""
        return [self.source[node.start : node.end] for node in _conjuncts(self.tree)]

    def explain(self, values: Mapping[str, object]) -> str:
        """Why the expression is not true: `(p99 < 200) is not true: p99=312.4`."""
        failing = []
        for node in _conjuncts(self.tree):
            sub = Expression(self.source[node.start : node.end], node)
            if not sub.is_true(values):
                failing.append(sub._describe(values))
        return "; ".join(failing or [self._describe(values)])

    def _describe(self, values: Mapping[str, object]) -> str:
        shown = ", ".join(f"{name}={_show(values.get(name))}" for name in _ordered_names(self.tree))
        term = _parenthesized(one_line(self.source))
        try:
            result = self._fn(values)
        except EvalError as exc:
            return f"{term} failed: {exc}" + (f": {shown}" if shown else "")
        what = "is not true" if result is False else f"is {_show(result)}, not true"
        return f"{term} {what}" + (f": {shown}" if shown else "")

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def compile_expression(text: str, origin: str = "expression") -> Expression:
    """Parse and compile `text`; a RunbookError says `origin:1:col: what is wrong`."""
    try:
        return Expression(text, parse(text))
    except ExpressionError as exc:
        line = text.count("\n", 0, exc.offset) + 1
        col = exc.offset - (text.rfind("\n", 0, exc.offset) + 1) + 1
        raise RunbookError(
            Location(origin, line, col), f"{exc.message} in `{one_line(text)}`", exc.hint
        ) from None
    except RecursionError:
        raise RunbookError(Location(origin), "expression nested too deeply") from None


def evaluate(text: str, values: Mapping[str, object]) -> object:
    """One-shot: compile `text` and evaluate it over `values` (raises RunbookError, EvalError)."""
    return compile_expression(text).evaluate(values)


def _lookup(node: Name) -> Getter:
    name = node.name
    return lambda values: values.get(name)


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, Binary) and node.op in ("&&", "and"):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _parenthesized(source: str) -> str:
    depth = 0
    for index, char in enumerate(source):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and index < len(source) - 1:
            return f"({source})"
    return source if source.startswith("(") else f"({source})"


def _ordered_names(node: Node) -> list[str]:
    seen: list[str] = []
    for sub in walk(node):
        if isinstance(sub, Name) and sub.name not in seen:
            seen.append(sub.name)
    return seen


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else to_string(value)
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "nil"
    return to_string(value)


__all__ = ["Expression", "compile_expression", "evaluate", "names_in", "walk"]
