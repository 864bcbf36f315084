"""`{{ expr }}` templates in strings, map keys and whole YAML values, compiled once.

A template that is the whole value keeps the expression's type (`"{{ i }}"` is an int); inside a
longer string a value is rendered as runn renders it: strings as they are, numbers as Go prints
them, nil as nothing, arrays and maps as JSON. `\\{\\{` and `\\}\\}` are literal braces.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._errors import EvalError
from ._values import Getter, format_float, plain
from ._yaml import YMap, YNode, YScalar, YSeq, typed_scalar

OPEN, CLOSE = "{{", "}}"
# compile(expression text, offset of the text in the scalar) -> getter
ExprCompiler = Callable[[str, int], Getter]


class Template:
    """A YAML value with templates in it: `render(scope)` gives the value for this iteration."""

    __slots__ = ("render", "static", "value")

    def __init__(self, value: Any = None, render: Getter | None = None) -> None:
        self.static = render is None
        self.value = value
        self.render: Getter = render if render is not None else (lambda _scope: value)


def render_text(value: Any) -> str:
    """How a value reads inside a longer string."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return format_float(value)
    try:
        return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise EvalError(f"cannot render {type(value).__name__}: {exc}") from None


def compile_string(
    text: str, compile_expr: ExprCompiler, *, whole_keeps_type: bool, reread: bool = False
) -> Template:
    """A template for one string; static when it has no `{{`. With `reread`, text around the
    templates is read again as a YAML scalar once rendered, as runn does (it expands the YAML
    text, then parses it): `'{{ n }}9'` is a number, `'"{{ n }}"'` a string without quotes."""
    if OPEN not in text:
        return Template(_unescape(text))
    parts: list[str | Getter] = []
    position = 0
    while True:
        start = _find_open(text, position)
        if start < 0:
            break
        end = text.find(CLOSE, start + 2)
        if end < 0:
            break  # an unclosed `{{` is literal text, as in runn
        if start > position:
            parts.append(_unescape(text[position:start]))
        parts.append(compile_expr(text[start + 2 : end], start + 2))
        position = end + 2
    if position < len(text):
        parts.append(_unescape(text[position:]))
    getters = [part for part in parts if not isinstance(part, str)]
    literal = "".join(part for part in parts if isinstance(part, str))
    if not getters:
        return Template(literal)
    if whole_keeps_type and len(getters) == 1 and not literal.strip():
        # `{{ x }}`, even padded with blanks, keeps its type
        return Template(render=_reread_whole(getters[0]) if reread else getters[0])
    joined = _joiner(parts)
    return Template(render=(lambda scope: yaml_scalar(joined(scope))) if reread else joined)


def _reread_whole(getter: Getter) -> Getter:
    def render(scope: Any) -> Any:
        value = getter(scope)
        return whole_string_value(value) if type(value) is str else value

    return render


def whole_string_value(text: str) -> Any:
    """A string that is a whole YAML value's only template, as runn reads it: runn writes it into
    the runbook's YAML text and parses that again, quoting it unless it is empty, `null` or JSON
    array/object text, which come back as null, the list or the map. Numbers and true/false
    stay strings (runn quotes those)."""
    stripped = text.strip(" ")
    if stripped in ("", "null"):
        return None
    if stripped[0] in "[{":
        try:
            value = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(value, list | dict):
            return value
    return text


_SCALAR_STARTS = frozenset("-+.0123456789tTfFnN~'\"")


def yaml_scalar(text: str) -> Any:
    """What YAML reads in `text` as a plain or quoted scalar; other text stays as it is."""
    if text and text[0] not in _SCALAR_STARTS:
        return text  # the common case: plain text, no need to ask the YAML typer
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return json.loads(text)
        except ValueError:
            return text
    return typed_scalar(text)


def _joiner(parts: list[str | Getter]) -> Getter:
    if len(parts) == 2:
        first, second = parts
        if isinstance(first, str) and not isinstance(second, str):
            return lambda scope: first + render_text(second(scope))
        if not isinstance(first, str) and isinstance(second, str):
            return lambda scope: render_text(first(scope)) + second

    def join(scope: Any) -> str:
        return "".join(p if isinstance(p, str) else render_text(p(scope)) for p in parts)

    return join


def _find_open(text: str, position: int) -> int:
    while True:
        start = text.find(OPEN, position)
        if start <= 0 or text[start - 1] != "\\":
            return start
        position = start + 2


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return text.replace("\\{\\{", "{{").replace("\\}\\}", "}}")


def compile_node(node: YNode | None, compile_for: Callable[[YScalar], ExprCompiler]) -> Template:
    """A template for a whole YAML value: maps (keys too), lists and scalars."""
    if node is None:
        return Template(None)
    if isinstance(node, YScalar):
        if isinstance(node.value, str) and OPEN in node.value:
            return compile_string(node.value, compile_for(node), whole_keeps_type=True, reread=True)
        return Template(node.value)
    if isinstance(node, YSeq):
        items = [compile_node(item, compile_for) for item in node.items]
        if all(item.static for item in items):
            return Template([item.value for item in items])
        renders = [item.render for item in items]
        return Template(render=lambda scope: [render(scope) for render in renders])
    assert isinstance(node, YMap)
    pairs = [
        (
            compile_string(key.value, compile_for(key), whole_keeps_type=False),
            compile_node(value, compile_for),
        )
        for key, value in node.items
    ]
    if all(key.static and value.static for key, value in pairs):
        return Template({key.value: value.value for key, value in pairs})
    rendered = [(key.render, value.render) for key, value in pairs]
    return Template(
        render=lambda scope: {
            _key(render_key(scope)): render_value(scope) for render_key, render_value in rendered
        }
    )


def _key(value: Any) -> str:
    return value if type(value) is str else render_text(value)
