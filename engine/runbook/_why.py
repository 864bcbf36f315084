"""Why a `test` is false: the values of the operands of the comparison that failed.

runn prints a tree of every sub-expression's value; a load test reports failures grouped by
their text, so this shows only the operands of the failing comparison(s), bounded, and at most
MAX_DISTINCT different texts per test (a value that differs every time would otherwise make every
failure a reason of its own). Nothing here runs while tests pass: the operands are compiled at
load beside the test and evaluated only once it has failed, over the same, unchanged scope.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..redact import redact_text
from ._ast import Binary, Literal, Node, Unary
from ._errors import EvalError, ExpressionError, one_line
from ._values import Getter, to_string

COMPARISONS = frozenset(
    {"==", "!=", "<", "<=", ">", ">=", "in", "contains", "startsWith", "endsWith", "matches"}
)
MAX_VALUE = 60  # characters of one operand's value
MAX_DETAIL = 200  # characters of the whole explanation
MAX_DISTINCT = 16  # different explanations per test; then "values vary"
VARIES = "values vary (more than 16 different failures)"

Compiler = Callable[[Node], Getter]


class _Term:
    """One comparison (or other term) and its operands, compiled; `None` where it cannot be."""

    def __init__(self, source: str, test: Getter | None, operands: list[tuple[str, Getter]]):
        self.source = source
        self.test = test
        self.operands = operands

    def failed(self, scope: Any) -> bool:
        try:
            return self.test is not None and self.test(scope) is not True
        except EvalError:
            return True

    def values(self, scope: Any) -> str:
        shown = []
        for side, get in self.operands:
            try:
                value = get(scope)
            except EvalError as exc:
                shown.append(f"{side} failed: {exc}")
                continue
            if not (side == "value" and isinstance(value, bool)):  # `false` says nothing more
                shown.append(f"{side} {_show(value)}")
        return ", ".join(shown)


class _Any:
    """`a || b`: false when every part is, and then each is explained."""

    def __init__(self, parts: list[_Why]):
        self.parts = parts

    def failed(self, scope: Any) -> bool:
        return all(part.failed(scope) for part in self.parts)

    def explain(self, scope: Any) -> list[str]:
        return [line for part in self.parts for line in _explain(part, scope)]


class _All:
    """`a && b`: the first false part stopped it; the ones after it were never evaluated."""

    def __init__(self, parts: list[_Why]):
        self.parts = parts

    def failed(self, scope: Any) -> bool:
        return any(part.failed(scope) for part in self.parts)

    def explain(self, scope: Any) -> list[str]:
        for part in self.parts:
            if part.failed(scope):
                return _explain(part, scope)
        return []


_Why = _Term | _Any | _All


class Why:
    """`explain(scope)`: `: left "y"` style text for a test over `scope` that was not true."""

    def __init__(self, text: str, tree: Node, compile_part: Compiler) -> None:
        self.root = _build(text, tree, compile_part)
        self.seen: set[str] = set()

    def explain(self, scope: Any) -> str:
        root = self.root
        if isinstance(root, _Term):  # the whole test is one comparison: no need to repeat it
            values = root.values(scope)
            detail = f": {_bounded(values)}" if values else ""
        else:
            lines = _explain(root, scope)
            detail = f" ({_bounded('; '.join(lines))})" if lines else ""
        if not detail:
            return ""
        if detail not in self.seen:
            if len(self.seen) >= MAX_DISTINCT:
                return f" ({VARIES})"
            self.seen.add(detail)
        return detail


def _explain(why: _Why, scope: Any) -> list[str]:
    if isinstance(why, _Term):
        values = why.values(scope) if why.operands else ""
        return [f"{why.source}: {values}"] if values else []
    return why.explain(scope)


def _build(text: str, node: Node, compile_part: Compiler) -> _Why:
    if isinstance(node, Binary) and node.op in ("&&", "and", "||", "or"):
        parts = [_build(text, part, compile_part) for part in _flatten(node, node.op)]
        return _All(parts) if node.op in ("&&", "and") else _Any(parts)
    source = one_line(text[node.start : node.end], 80)
    comparison = node
    if isinstance(node, Unary) and node.op in ("!", "not") and isinstance(node.operand, Binary):
        comparison = node.operand  # `a not in b`, `!(a == b)`
    if isinstance(comparison, Binary) and comparison.op in COMPARISONS:
        sides = [("left", comparison.left), ("right", comparison.right)]
        operands = [(side, part) for side, part in sides if not isinstance(part, Literal)]
    else:
        operands = [("value", node)]  # a term that is not a comparison: show it unless a bool
    compiled = [(side, get) for side, part in operands if (get := _try(compile_part, part))]
    return _Term(source, _try(compile_part, node), compiled)


def _flatten(node: Node, op: str) -> list[Node]:
    same = ("&&", "and") if op in ("&&", "and") else ("||", "or")
    if isinstance(node, Binary) and node.op in same:
        return _flatten(node.left, op) + _flatten(node.right, op)
    return [node]


def _try(compile_part: Compiler, node: Node) -> Getter | None:
    try:
        return compile_part(node)
    except (ExpressionError, RecursionError):
        return None  # a part that can never run on its own (a constant that always fails)


def _bounded(text: str) -> str:
    return one_line(redact_text(text), MAX_DETAIL)  # masked before cut: no half secret shown


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif value is None:
        text = "nil"
    else:
        text = to_string(value)
    text = redact_text(text)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
