"""Templates whose values are known at load, expanded once: a custom runner's runbook.

runn expands a runbook runner's runbook (`runners: {name: {path: ..., params: ...}}`) each time
a step calls it, against the calling step's `nodes` and the runner's `params`, in templated keys
(`'{{ vars.path }}': {'{{ vars.method }}': ...}`) and endpoints too. When those are known at load
(the step's own YAML, the caller's static vars, the environment), loadscope expands them once
here, and the runbook is then compiled like any other. A template that needs the run (`steps`,
`current`, a bound name) is left as it is, to be rendered per iteration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._ast import Name
from ._errors import EvalError, ExpressionError
from ._expr_compiler import constant_of
from ._parser import parse
from ._template import OPEN, compile_string
from ._values import Constant, Getter
from ._yaml import YMap, YNode, YScalar, YSeq


class NotStatic(Exception):
    """A template that needs the run."""


def expand_static(node: YNode, names: Mapping[str, Any]) -> YNode:
    """`node` with every template that reads only `names` (and functions) replaced by its value,
    keys included."""
    if isinstance(node, YScalar):
        value = static_value(node, names)
        return node if value is _UNCHANGED else to_node(value, node)
    if isinstance(node, YSeq):
        return YSeq(node.location, [expand_static(item, names) for item in node.items])
    if isinstance(node, YMap):
        items = []
        for key, value in node.items:
            new_key = expand_static(key, names)
            if not isinstance(new_key, YScalar):  # a key that became a map or a list
                new_key = key
            items.append((new_key, expand_static(value, names)))
        return YMap(node.location, items)
    return node


def plain_static(node: YNode | None, names: Mapping[str, Any]) -> Any:
    """The whole of `node` as a plain value; NotStatic when some template needs the run."""
    if node is None:
        return None
    if isinstance(node, YScalar):
        value = static_value(node, names)
        if value is _UNCHANGED:
            if isinstance(node.value, str) and OPEN in node.value:
                raise NotStatic(node.value)
            return node.value
        return value
    if isinstance(node, YSeq):
        return [plain_static(item, names) for item in node.items]
    if isinstance(node, YMap):
        return {str(plain_static(key, names)): plain_static(v, names) for key, v in node.items}
    return None


UNCHANGED: Any = object()  # static_value: nothing to expand, or not known at load
_UNCHANGED = UNCHANGED


def static_value(node: YScalar, names: Mapping[str, Any]) -> Any:
    """The scalar's value with its templates expanded, or _UNCHANGED (no template, or one that
    needs the run)."""
    text = node.value
    if not isinstance(text, str) or OPEN not in text:
        return _UNCHANGED
    resolve = _resolver(names)

    def compile_expr(expression: str, _offset: int) -> Getter:
        try:
            folded = constant_of(parse(expression), resolve)
        except (ExpressionError, RecursionError):
            folded = None
        if folded is None:
            raise NotStatic(expression)
        value = folded.value
        return lambda _scope: value

    try:
        template = compile_string(text, compile_expr, whole_keeps_type=True, reread=True)
        return template.render(None)
    except (NotStatic, EvalError):
        return _UNCHANGED


def _resolver(names: Mapping[str, Any]) -> Any:
    def resolve(node: Name) -> Constant:
        if node.name in names:
            return Constant(names[node.name])
        raise ExpressionError(f"`{node.name}` is known only while running", node.start)

    return resolve


def to_node(value: Any, like: YScalar) -> YNode:
    """A plain value as YAML nodes, located where the template was."""
    if isinstance(value, Mapping):
        return YMap(
            like.location, [(_scalar(str(k), like), to_node(v, like)) for k, v in value.items()]
        )
    if isinstance(value, list | tuple):
        return YSeq(like.location, [to_node(item, like) for item in value])
    return _scalar(value, like)


def _scalar(value: Any, like: YScalar) -> YScalar:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return YScalar(like.location, value, text, "plain", like.source)


EXPANDED_KEYS = ("headers", "body")


def expand_request_objects(request: YNode, names: Mapping[str, Any]) -> YNode:
    """runn's object variable expansion: `headers: "{{ vars.auth_headers }}"` or
    `body: "{{ vars.body }}"` (the whole value one template giving a map) becomes that map,
    known at load. `request` is a step's `{path: {method: options}}`."""
    if not isinstance(request, YMap) or len(request.items) != 1:
        return request
    path, methods = request.items[0]
    if not isinstance(methods, YMap) or len(methods.items) != 1:
        return request
    method, options = methods.items[0]
    if not isinstance(options, YMap) or not any(
        _whole_template(options.get(key)) for key in EXPANDED_KEYS
    ):
        return request
    items = []
    for key, value in options.items:
        if key.value in EXPANDED_KEYS and _whole_template(value):
            assert isinstance(value, YScalar)
            expanded = static_value(value, names)
            if isinstance(expanded, Mapping):
                value = to_node(expanded, value)
        items.append((key, value))
    expanded_options = YMap(options.location, items)
    return YMap(request.location, [(path, YMap(methods.location, [(method, expanded_options)]))])


def _whole_template(node: YNode | None) -> bool:
    if not isinstance(node, YScalar) or not isinstance(node.value, str):
        return False
    text = node.value.strip()
    return text.startswith(OPEN) and text.endswith("}}") and text.count(OPEN) == 1
