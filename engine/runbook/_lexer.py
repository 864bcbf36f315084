"""Tokens of the expr-lang subset: numbers, strings, names, operators; comments are skipped."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from ._errors import ExpressionError


class Kind(enum.Enum):
    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    OPERATOR = "operator"
    EOF = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    value: object  # int/float for numbers, str otherwise
    start: int
    end: int

    def is_op(self, *values: str) -> bool:
        return self.kind is Kind.OPERATOR and self.value in values

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of expression"
        if self.kind is Kind.STRING:
            return f"string {self.value!r}"
        return repr(str(self.value))


WORD_OPERATORS = frozenset(
    {"and", "or", "not", "in", "contains", "startsWith", "endsWith", "matches"}
)
# Longest first, so `**` wins over `*` and `?.` over `?`.
_SYMBOLS = (
    "...", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "**", "..",
    "<", ">", "!", "+", "-", "*", "/", "%", "^", "?", ":", ".", ",",
    "(", ")", "[", "]", "{", "}", "|", "#", ";", "=",
)  # fmt: skip
_NESTING: dict[str, int] = {"(": 1, "{": 1, ")": -1, "}": -1}
_UNSUPPORTED = {
    "...": "`...` is not supported",
}
_NAME = re.compile(r"(?:[^\W\d]|\$)(?:\w|\$)*")  # Unicode letters too, as Go's expr allows
_DIGITS = frozenset("0123456789")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+"
    r"|(?:[0-9][0-9_]*(?:\.(?!\.)[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?"
)
_SPACE = re.compile(r"\s+")
_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"',
    "a": "\a", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "/": "/",
}  # fmt: skip


def tokenize(text: str, sharp_comments: list[tuple[int, int]] | None = None) -> list[Token]:
    """The tokens of `text`. With a `sharp_comments` list, a `#` outside any `(` or `{` (where
    it can never be a predicate's element) starts a comment to the end of its line, as runn
    still reads it (deprecated for `//`); each comment's span is added to the list."""
    tokens: list[Token] = []
    pos, size = 0, len(text)
    depth = 0  # open `(` and `{`: a `#` inside them is a predicate's element
    while pos < size:
        char = text[pos]
        if char == "#" and depth == 0 and sharp_comments is not None:
            newline = text.find("\n", pos)
            end = size if newline < 0 else newline
            sharp_comments.append((pos, end))
            pos = end
        elif char.isspace():
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        elif text.startswith("//", pos):
            newline = text.find("\n", pos)
            pos = size if newline < 0 else newline
        elif text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            if close < 0:
                raise ExpressionError("unterminated /* comment", pos)
            pos = close + 2
        elif char in "'\"":
            value, end = _quoted(text, pos)
            tokens.append(Token(Kind.STRING, value, pos, end))
            pos = end
        elif char == "`":
            close = text.find("`", pos + 1)
            if close < 0:
                raise ExpressionError("unterminated `raw string`", pos)
            tokens.append(Token(Kind.STRING, text[pos + 1 : close], pos, close + 1))
            pos = close + 1
        elif char in _DIGITS or (char == "." and text[pos + 1 : pos + 2] in _DIGITS):
            pos = _number(text, pos, tokens)
        elif char.isalpha() or char in "_$":
            match = _NAME.match(text, pos)
            assert match is not None
            word = match.group()
            kind = Kind.OPERATOR if word in WORD_OPERATORS else Kind.NAME
            tokens.append(Token(kind, word, pos, match.end()))
            pos = match.end()
        else:
            pos = _symbol(text, pos, tokens)
            depth += _NESTING.get(str(tokens[-1].value), 0)
    tokens.append(Token(Kind.EOF, "", size, size))
    return tokens


def _number(text: str, pos: int, tokens: list[Token]) -> int:
    match = _NUMBER.match(text, pos)
    assert match is not None
    raw = match.group().replace("_", "")
    end = match.end()
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        raise ExpressionError(f"invalid number {text[pos : end + 1]!r}", pos)
    try:
        if raw[:2].lower() in ("0x", "0o", "0b"):
            value: int | float = int(raw, 0)
        elif any(c in raw for c in ".eE"):
            value = float(raw)
        else:
            value = int(raw)
    except ValueError:
        raise ExpressionError(f"invalid number {match.group()!r}", pos) from None
    tokens.append(Token(Kind.NUMBER, value, pos, end))
    return end


def _symbol(text: str, pos: int, tokens: list[Token]) -> int:
    for symbol in _SYMBOLS:
        if text.startswith(symbol, pos):
            if symbol in _UNSUPPORTED:
                raise ExpressionError(_UNSUPPORTED[symbol], pos)
            tokens.append(Token(Kind.OPERATOR, symbol, pos, pos + len(symbol)))
            return pos + len(symbol)
    raise ExpressionError(f"unexpected character {text[pos]!r}", pos)


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    parts: list[str] = []
    pos = start + 1
    while True:
        if pos >= len(text):
            raise ExpressionError("unterminated string", start, "close it with " + quote)
        char = text[pos]
        if char == quote:
            return "".join(parts), pos + 1
        if char == "\n":
            raise ExpressionError("unterminated string (a newline inside quotes)", start)
        if char != "\\":
            parts.append(char)
            pos += 1
            continue
        escape = text[pos + 1 : pos + 2]
        if escape in _ESCAPES:
            parts.append(_ESCAPES[escape])
            pos += 2
        elif escape in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[escape]
            digits = text[pos + 2 : pos + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ExpressionError(f"invalid escape \\{escape}{digits}", pos)
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise ExpressionError(f"invalid escape \\{escape}{digits}", pos)
            parts.append(chr(code))
            pos += 2 + width
        else:
            raise ExpressionError(f"invalid escape \\{escape}", pos)
