"""The syntax tree of the expr-lang subset (`_parser` builds it, `_expr_compiler` compiles it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Node:
    start: int
    end: int


@dataclass(slots=True)
class Literal(Node):
    value: object


@dataclass(slots=True)
class Name(Node):
    name: str


@dataclass(slots=True)
class Member(Node):
    """`obj.name`, `obj?.name` or `obj[key]`."""

    obj: Node
    key: Node
    optional: bool = False


@dataclass(slots=True)
class Slice(Node):
    obj: Node
    low: Node | None
    high: Node | None


@dataclass(slots=True)
class Call(Node):
    func: str
    args: list[Node]


@dataclass(slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(slots=True)
class Conditional(Node):
    cond: Node
    then: Node | None  # None: the short form `cond ?: otherwise`
    otherwise: Node


@dataclass(slots=True)
class ArrayLit(Node):
    items: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class MapLit(Node):
    pairs: list[tuple[Node, Node]] = field(default_factory=list)


class Frame:
    """What a predicate's `#`, `#index` and `#acc` read, or a `let` name: set while it runs."""

    __slots__ = ("acc", "element", "index")

    def __init__(self) -> None:
        self.element: object = None
        self.index: object = None
        self.acc: object = None


@dataclass(slots=True)
class Closure(Node):
    """A predicate: `{# > 1}`, `.age > 18` or `#index == 0`, as an argument of map/filter ..."""

    body: Node
    frame: Frame = field(default_factory=Frame)


@dataclass(slots=True)
class Pointer(Node):
    """`#` (the element), `#index` or `#acc` of the innermost predicate."""

    name: str
    frame: Frame


@dataclass(slots=True)
class Let(Node):
    """`let name = value; body`."""

    name: str
    value: Node
    body: Node
    frame: Frame = field(default_factory=Frame)


@dataclass(slots=True)
class LetRef(Node):
    let: Let


@dataclass(slots=True)
class Sequence(Node):
    """`a; b`: each evaluated in turn; the value is the last one's."""

    nodes: list[Node]


# expr-lang's functions whose second argument is a predicate (a closure over `#`)
PREDICATES = frozenset(
    {"all", "none", "any", "one", "filter", "map", "count", "sum", "find", "findIndex",
     "findLast", "findLastIndex", "groupBy", "sortBy", "reduce"}
)  # fmt: skip
