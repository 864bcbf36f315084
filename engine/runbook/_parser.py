"""The parser of the expr-lang subset: tokens to a syntax tree (`_ast`), by precedence climbing
as expr-lang's own parser does it."""

from __future__ import annotations

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
from ._errors import ExpressionError
from ._lexer import Kind, Token, tokenize

MAX_DEPTH = 64

# expr-lang's precedences; comparisons chain (`a < b < c` is `a < b && b < c`).
BINARY = {
    "or": 10, "||": 10, "and": 15, "&&": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20,
    "in": 20, "matches": 20, "contains": 20, "startsWith": 20, "endsWith": 20, "..": 25,
    "|": 0, "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "**": 100, "^": 100, "??": 500,
}  # fmt: skip
RIGHT_ASSOCIATIVE = frozenset({"**", "^"})
UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
ORDERING = frozenset({"<", ">", "<=", ">="})
CONSTANTS = {"true": True, "false": False, "nil": None, "null": None}


def _dotted(node: Node) -> str | None:
    if isinstance(node, Name):
        return node.name
    if (
        isinstance(node, Member)
        and isinstance(node.key, Literal)
        and isinstance(node.key.value, str)
    ):
        base = _dotted(node.obj)
        return f"{base}.{node.key.value}" if base else None
    return None


def parse(text: str, sharp_comments: list[tuple[int, int]] | None = None) -> Node:
    """The tree of `text`; with a `sharp_comments` list, `# comments` are read (see tokenize)."""
    parser = _Parser(tokenize(text, sharp_comments))
    node = parser.sequence()
    if parser.token.kind is not Kind.EOF:
        raise parser.unexpected()
    return node


class _TokenCursor:
    """The parser's position in the token list, and the errors it reports there."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.EOF:
            self.index += 1
        return token

    def expect(self, op: str) -> Token:
        if not self.token.is_op(op):
            raise ExpressionError(
                f"expected {op!r} but found {self.token.describe()}", self.token.start
            )
        return self.advance()

    def unexpected(self) -> ExpressionError:
        token = self.token
        hint = "did you mean `==`?" if token.is_op("=") else None
        return ExpressionError(f"unexpected {token.describe()}", token.start, hint)

    def is_name(self, word: str) -> bool:
        return self.token.kind is Kind.NAME and self.token.value == word


class _Parser(_TokenCursor):
    """Precedence climbing over expr-lang's grammar, as expr-lang's own parser does it."""

    def __init__(self, tokens: list[Token]) -> None:
        super().__init__(tokens)
        self.depth = 0
        self.closures: list[Closure] = []  # the predicates being parsed, innermost last
        self.lets: list[Let] = []  # the `let` names in scope, innermost last

    def sequence(self) -> Node:
        """`a; b; c` (or one expression); a `let` scopes over the rest of its sequence."""
        first = self.expression(0)
        nodes = [first]
        while self.token.is_op(";"):
            self.advance()
            if self.token.kind is Kind.EOF or self.token.is_op("}", ")"):
                break
            nodes.append(self.expression(0))
        if len(nodes) == 1:
            return first
        return Sequence(first.start, nodes[-1].end, nodes)

    def let(self) -> Node:
        start = self.advance()
        name = self.advance()
        if name.kind is not Kind.NAME:
            raise ExpressionError(f"expected a name after let, found {name.describe()}", name.start)
        self.expect("=")
        value = self.expression(0)
        self.expect(";")
        let = Let(start.start, start.end, str(name.value), value, Literal(0, 0, None))
        self.lets.append(let)
        try:
            let.body = self.sequence()
        finally:
            self.lets.pop()
        let.end = let.body.end
        return let

    def if_else(self) -> Node:
        """`if cond { a } else { b }` (or `else if ...`)."""
        start = self.advance()
        cond = self.expression(0)
        self.expect("{")
        then = self.sequence()
        self.expect("}")
        if not (self.token.kind is Kind.NAME and self.token.value == "else"):
            raise ExpressionError("expected `else` after `if { ... }`", self.token.start)
        self.advance()
        if self.is_name("if"):
            otherwise = self.if_else()
        else:
            self.expect("{")
            otherwise = self.sequence()
            close = self.expect("}")
            otherwise.end = max(otherwise.end, close.end)
        return Conditional(start.start, otherwise.end, cond, then, otherwise)

    # -- binary operators -------------------------------------------------------------------------
    def expression(self, precedence: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError("expression nested too deeply", self.token.start)
        try:
            token = self.token
            if precedence == 0 and token.kind is Kind.NAME and token.value in ("let", "if"):
                follower = self.tokens[self.index + 1]
                if token.value == "let" and follower.kind is Kind.NAME:
                    return self.let()
                if token.value == "if" and not follower.is_op("(", ")", ".", ",", "?."):
                    return self.if_else()
            left = self._binary(precedence)
            if precedence == 0:
                left = self._conditional(left)
            return left
        finally:
            self.depth -= 1

    def _binary(self, precedence: int) -> Node:
        left = self.primary()
        while True:
            token = self.token
            negate = token.is_op("not")
            if negate:
                follower = self.tokens[self.index + 1]
                if not (follower.kind is Kind.OPERATOR and follower.value in NEGATABLE):
                    raise ExpressionError(
                        f"unexpected 'not' before {follower.describe()}", token.start
                    )
                token = follower
            op = token.value if token.kind is Kind.OPERATOR else None
            if not isinstance(op, str) or op not in BINARY or BINARY[op] < precedence:
                return left
            if negate:
                self.advance()
            self.advance()
            if op == "|":
                left = self.pipe(left)
                continue
            level = BINARY[op]
            if op in ORDERING:
                left = self._comparison(left, op, level)
                continue
            right = self.expression(level if op in RIGHT_ASSOCIATIVE else level + 1)
            left = Binary(left.start, right.end, op, left, right)
            if negate:
                left = Unary(left.start, left.end, "not", left)

    def pipe(self, left: Node) -> Node:
        """`value | f(args)` is `f(value, args)`."""
        name = self.advance()
        if name.kind is not Kind.NAME or not self.token.is_op("("):
            raise ExpressionError("expected a function call after `|`", name.start)
        dotted = str(name.value)
        return self.call(name, dotted, [left], left.start)

    def _comparison(self, left: Node, op: str, level: int) -> Node:
        root: Node | None = None
        while True:
            right = self.expression(level + 1)
            node = Binary(left.start, right.end, op, left, right)
            root = node if root is None else Binary(root.start, node.end, "&&", root, node)
            token = self.token
            if not (token.kind is Kind.OPERATOR and token.value in ORDERING):
                return root
            op = str(self.advance().value)
            left = right

    def _conditional(self, node: Node) -> Node:
        while self.token.is_op("?"):
            self.advance()
            if self.token.is_op(":"):
                self.advance()
                otherwise = self.expression(0)
                node = Conditional(node.start, otherwise.end, node, None, otherwise)
                continue
            then = self.expression(0)
            self.expect(":")
            otherwise = self.expression(0)
            node = Conditional(node.start, otherwise.end, node, then, otherwise)
        return node

    # -- operands ---------------------------------------------------------------------------------
    def primary(self) -> Node:
        token = self.token
        if token.kind is Kind.OPERATOR and token.value in UNARY:
            self.advance()
            operand = self.expression(UNARY[str(token.value)])
            return self.postfix(Unary(token.start, operand.end, str(token.value), operand))
        if token.is_op("("):
            self.advance()
            inner = self.sequence()
            close = self.expect(")")
            inner.start, inner.end = token.start, close.end
            return self.postfix(inner)
        if token.is_op("#", "."):
            return self.postfix(self.pointer(token))
        return self.postfix(self.operand())

    def pointer(self, token: Token) -> Node:
        """`#`, `#index`, `#acc`; a leading `.field` is `#.field` (only inside a predicate)."""
        if not self.closures:
            raise ExpressionError(
                f"{token.value!r} is only valid inside a predicate, like map(list, {{#.id}})",
                token.start,
            )
        name, end = "", token.end
        if token.is_op("#"):
            self.advance()
            after = self.token
            if after.kind is Kind.NAME and after.start == token.end:
                name, end = str(after.value), after.end
                self.advance()
                if name not in ("index", "acc"):
                    raise ExpressionError(f"unknown pointer #{name}", token.start)
        return Pointer(token.start, end, name, self.closures[-1].frame)

    def operand(self) -> Node:
        token = self.advance()
        if token.kind in (Kind.NUMBER, Kind.STRING):
            return Literal(token.start, token.end, token.value)
        if token.kind is Kind.NAME:
            name = str(token.value)
            if name in CONSTANTS:
                return Literal(token.start, token.end, CONSTANTS[name])
            if self.token.is_op("("):
                return self.call(token, name, [], token.start)
            for let in reversed(self.lets):
                if let.name == name:
                    return LetRef(token.start, token.end, let)
            return Name(token.start, token.end, name)
        if token.is_op("["):
            return self.array(token)
        if token.is_op("{"):
            return self.map(token)
        raise ExpressionError(f"unexpected {token.describe()}", token.start)

    def call(self, name: Token, func: str, args: list[Node], start: int) -> Node:
        self.expect("(")
        while not self.token.is_op(")"):
            if func in PREDICATES and len(args) == 1:
                args.append(self.closure())
            else:
                args.append(self.expression(0))
            if not self.token.is_op(")"):
                self.expect(",")
        close = self.expect(")")
        return Call(start, close.end, func, args)

    def closure(self) -> Closure:
        """A predicate argument: `{ ... }` or a bare expression over `#`."""
        opening = self.token
        closure = Closure(opening.start, opening.end, Literal(0, 0, None))
        self.closures.append(closure)
        try:
            if opening.is_op("{"):
                self.advance()
                closure.body = self.sequence()
                closure.end = self.expect("}").end
            else:
                closure.body = self.expression(0)
                closure.end = closure.body.end
        finally:
            self.closures.pop()
        return closure

    def array(self, opening: Token) -> Node:
        items: list[Node] = []
        while not self.token.is_op("]"):
            items.append(self.expression(0))
            if not self.token.is_op("]"):
                self.expect(",")
        close = self.expect("]")
        return ArrayLit(opening.start, close.end, items)

    def map(self, opening: Token) -> Node:
        pairs: list[tuple[Node, Node]] = []
        while not self.token.is_op("}"):
            key_token = self.advance()
            if key_token.kind in (Kind.NAME, Kind.STRING, Kind.NUMBER) or (
                key_token.kind is Kind.OPERATOR and str(key_token.value).isalpha()
            ):
                key: Node = Literal(key_token.start, key_token.end, key_token.value)
            elif key_token.is_op("("):
                key = self.expression(0)
                self.expect(")")
            else:
                raise ExpressionError(
                    f"a map key must be a name or a string, not {key_token.describe()}",
                    key_token.start,
                )
            self.expect(":")
            pairs.append((key, self.expression(0)))
            if not self.token.is_op("}"):
                self.expect(",")
        close = self.expect("}")
        return MapLit(opening.start, close.end, pairs)

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.token
            if token.is_op(".", "?."):
                self.advance()
                name = self.advance()
                if not (
                    name.kind is Kind.NAME
                    or (name.kind is Kind.OPERATOR and str(name.value).isalpha())
                ):
                    raise ExpressionError(
                        f"expected a field name after {token.value!r}, found {name.describe()}",
                        name.start,
                    )
                key = Literal(name.start, name.end, name.value)
                node = Member(node.start, name.end, node, key, token.value == "?.")
            elif token.is_op("["):
                self.advance()
                node = self.index_or_slice(node)
            elif token.is_op("(") and isinstance(node, Member):
                dotted = _dotted(node)
                if dotted is None:
                    raise ExpressionError(
                        "methods are not supported", node.start, "call functions by name"
                    )
                node = self.call(token, dotted, [], node.start)
            else:
                return node

    def index_or_slice(self, node: Node) -> Node:
        low = None if self.token.is_op(":") else self.expression(0)
        if self.token.is_op(":"):
            self.advance()
            high = None if self.token.is_op("]") else self.expression(0)
            close = self.expect("]")
            return Slice(node.start, close.end, node, low, high)
        close = self.expect("]")
        assert low is not None
        return Member(node.start, close.end, node, low)
