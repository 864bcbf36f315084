"""expr-lang's predicate built-ins (all, any, filter, map, reduce ...): each takes the elements,
the predicate compiled as `apply(element, index)` and the closure's frame (`#acc` lives there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ._ast import Frame
from ._errors import EvalError
from ._values import NUMBERS, number_type, type_name

# predicate function -> (least, most) arguments, the predicate included
PREDICATE_ARGS = {"count": (1, 2), "sum": (1, 2), "sortBy": (2, 3), "reduce": (2, 3)}

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
        if type(value) not in NUMBERS:
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
