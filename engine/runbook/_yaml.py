"""Reading a runbook's YAML into a small tree whose every node knows its `file:line:col`.

Scalars are typed as runn (Go YAML) types them, not as YAML 1.1 does: `yes`, `on` and `010` stay a
string and a decimal. `${ENV}`, `${ENV:-default}`, `${ENV-default}` and `${ENV?message}` are
expanded in values (never in keys) before typing, as runn does, so `count: ${N:-3}` is a number;
an unset `${ENV}` is an empty string, and the scalar keeps its name to explain a value that is
then missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

from ._errors import Location, RunbookError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NODES = 200_000  # a bound on alias expansion ("billion laughs")

_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {
    ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
    "+.inf": float("inf"), "-.inf": float("-inf"), "-.Inf": float("-inf"),
    ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
}  # fmt: skip
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-|\?)((?:[^{}]|\{[^{}]*\})*))?\}")


class Source:
    """A runbook file's text, for locating positions inside multi-line scalars."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()


class YNode:
    __slots__ = ("location",)

    def __init__(self, location: Location) -> None:
        self.location = location


class YScalar(YNode):
    __slots__ = ("source", "style", "text", "unset_env", "value")

    def __init__(
        self,
        location: Location,
        value: Any,
        text: str,
        style: str,
        source: Source,
        unset_env: tuple[str, ...] = (),
    ) -> None:
        super().__init__(location)
        self.value = value
        self.text = text
        self.style = style
        self.source = source
        self.unset_env = unset_env  # the `${ENV}` in it that were not set, so expanded to ""

    def locate(self, offset: int) -> Location:
        """The file position of character `offset` of this scalar's text."""
        line_index = self.text.count("\n", 0, offset)
        col_in_line = offset - (self.text.rfind("\n", 0, offset) + 1)
        loc = self.location
        if self.style in ("|", ">"):
            line = loc.line + 1 + line_index
            text_line = self.text.split("\n")[line_index]
            source_line = self.source.lines[line - 1] if 0 < line <= len(self.source.lines) else ""
            found = source_line.find(text_line) if text_line else -1
            return Location(loc.path, line, (found if found >= 0 else 0) + col_in_line + 1)
        if line_index:
            return Location(loc.path, loc.line + line_index, col_in_line + 1)
        quote = 1 if self.style in ("'", '"') else 0
        return Location(loc.path, loc.line, loc.col + quote + col_in_line)


class YSeq(YNode):
    __slots__ = ("items",)

    def __init__(self, location: Location, items: list[YNode]) -> None:
        super().__init__(location)
        self.items = items


class YMap(YNode):
    __slots__ = ("items",)

    def __init__(self, location: Location, items: list[tuple[YScalar, YNode]]) -> None:
        super().__init__(location)
        self.items = items

    def get(self, key: str) -> YNode | None:
        for k, v in self.items:
            if k.value == key:
                return v
        return None

    def key_node(self, key: str) -> YScalar | None:
        for k, _ in self.items:
            if k.value == key:
                return k
        return None


def load(
    text: str, path: str, env: Mapping[str, str], warn: Callable[[Location, str], None]
) -> YNode | None:
    """The document's root node (None for an empty file). Raises RunbookError."""
    source = Source(path, text)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        problem = exc.problem or exc.context or "invalid YAML"
        if "single document" in problem or "another document" in str(exc):
            raise RunbookError(
                where, "a runbook is one YAML document", "remove the `---`"
            ) from None
        raise RunbookError(where, f"invalid YAML: {problem}", _yaml_hint(exc)) from None
    except yaml.YAMLError as exc:
        raise RunbookError(Location(path), f"invalid YAML: {exc}") from None
    except RecursionError:
        raise RunbookError(Location(path), "invalid YAML: nested too deeply") from None
    if root is None:
        return None
    return _Converter(source, env, warn).convert(root)


def _yaml_hint(exc: yaml.MarkedYAMLError) -> str | None:
    problem = exc.problem or ""
    if "mapping values are not allowed" in problem:
        return "quote values that contain ': '"
    if "found character '\\t'" in problem:
        return "indent with spaces, not tabs"
    if "found undefined alias" in problem:
        return "define the &anchor before its *alias"
    return None


class _Converter:
    def __init__(
        self, source: Source, env: Mapping[str, str], warn: Callable[[Location, str], None]
    ) -> None:
        self.source = source
        self.env = env
        self.warn = warn
        self.count = 0
        self.active: set[int] = set()

    def location(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.source.path, mark.line + 1, mark.column + 1)

    def convert(self, node: yaml.Node, is_key: bool = False) -> YNode:
        self.count += 1
        if self.count > MAX_NODES:
            raise RunbookError(self.location(node), "the YAML expands to too many nodes (aliases)")
        if id(node) in self.active:
            raise RunbookError(self.location(node), "an alias refers to itself")
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, is_key)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return YSeq(self.location(node), [self.convert(item) for item in node.value])
            assert isinstance(node, yaml.MappingNode)
            return self.mapping(node)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode) -> YMap:
        items: list[tuple[YScalar, YNode]] = []
        merged: list[tuple[YScalar, YNode]] = []
        seen: dict[str, YScalar] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or (
                isinstance(key_node, yaml.ScalarNode)
                and key_node.value == "<<"
                and not key_node.style
            ):
                merged.extend(self.merge(value_node))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise RunbookError(self.location(key_node), "a map key must be a plain string")
            key = self.scalar(key_node, is_key=True)
            if key.value in seen:
                first = seen[key.value].location.line
                raise RunbookError(
                    key.location, f"duplicate key {key.value!r}", f"first at line {first}"
                )
            seen[key.value] = key
            items.append((key, self.convert(value_node)))
        for key, value in merged:  # explicit keys win over merged ones
            if key.value not in seen:
                seen[key.value] = key
                items.append((key, value))
        return YMap(self.location(node), items)

    def merge(self, node: yaml.Node) -> Iterator[tuple[YScalar, YNode]]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            converted = self.convert(source)
            if not isinstance(converted, YMap):
                raise RunbookError(converted.location, "`<<` merges maps only")
            yield from converted.items

    def scalar(self, node: yaml.ScalarNode, is_key: bool) -> YScalar:
        location = self.location(node)
        text = node.value
        style = node.style or ""
        if is_key:  # keys stay as written, as runn's `fmt.Sprintf("%v", key)` mostly does
            return YScalar(location, text, text, style, self.source)
        unset: list[str] = []
        if "${" in text:
            text = self.expand_env(text, location, unset)
        if style:
            value: Any = text
        elif node.tag == _resolve(node.value):
            value = typed_scalar(text)
        else:
            value = _explicit(text, node.tag)
        return YScalar(location, value, text, style, self.source, tuple(dict.fromkeys(unset)))

    def expand_env(self, text: str, location: Location, unset: list[str]) -> str:
        """`text` with its `${ENV...}` expanded; the names that were not set join `unset`."""

        def replace(match: re.Match[str]) -> str:
            name, operator, word = match.group(1), match.group(2), match.group(3)
            value = self.env.get(name)
            if operator == ":-" and not value:
                return self.expand_env(word or "", location, unset)
            if operator == "-" and value is None:
                return self.expand_env(word or "", location, unset)
            if operator == "?" and value is None:
                message = self.expand_env(word or "", location, unset)
                raise RunbookError(location, f"{not_set(name)}: {message or 'it is required'}")
            if value is None:
                self.warn(location, f"${{{name}}} is not set; it expands to an empty string")
                unset.append(name)
                return ""
            return value

        return _ENV.sub(replace, text)


def not_set(*names: str) -> str:
    """`the environment variable A is not set`, for one name or more."""
    if len(names) == 1:
        return f"the environment variable {names[0]} is not set"
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"the environment variables {listed} are not set"


_RESOLVER = yaml.resolver.Resolver()


def _resolve(text: str) -> str:
    """The tag YAML gives a plain scalar of `text`."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return tag


def typed_scalar(text: str) -> Any:
    """A plain scalar, typed as Go YAML types it."""
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return int(text, 0) if text[:2] in ("0x", "0o") else int(text)
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _explicit(text: str, tag: str) -> Any:
    """A scalar with an explicit tag (`!!str 123`, `!!int "5"`)."""
    kind = tag.rsplit(":", 1)[-1]
    try:
        if kind == "int":
            return int(text, 0)
        if kind == "float":
            return float(text)
        if kind == "bool":
            return _BOOL.get(text, text)
        if kind == "null":
            return None
    except ValueError:
        pass
    return text


def plain(node: YNode | None) -> Any:
    """The plain Python value of a node: dicts (insertion-ordered), lists and scalars."""
    if node is None:
        return None
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [plain(item) for item in node.items]
    assert isinstance(node, YMap)
    return {key.value: plain(value) for key, value in node.items}


def kind_of(node: YNode | None) -> str:
    if node is None or (isinstance(node, YScalar) and node.value is None):
        return "null"
    if isinstance(node, YMap):
        return "a map"
    if isinstance(node, YSeq):
        return "a list"
    value = node.value  # type: ignore[attr-defined]
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string"
