"""Parsing a runbook's YAML tree into a checked model: runners, vars, steps and their parts.

Nothing here evaluates an expression; `_compile` turns this model into what iterations run.
Keys runn knows but loadscope does not run get a warning; shapes that cannot run are errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from ..durations import DurationError, parse_duration
from ..files import InputFileError, input_file_problem, read_input_file
from ._book_fields import (
    Warn,
    absent,
    close_key,
    did_you_mean,
    duration,
    expression_node,
    flag,
    number,
    optional_string,
    string_list,
)
from ._book_runners import RunnerSpec, parse_runner
from ._errors import Location, RunbookError
from ._yaml import YMap, YNode, YScalar, YSeq, kind_of, plain

TOP_LEVEL = frozenset(
    {"desc", "labels", "runners", "vars", "steps", "if", "force", "skipTest", "interval", "loop",
     "hostRules", "needs", "concurrency", "trace", "secrets"}
)  # fmt: skip
TOP_LEVEL_IGNORED = {
    "debug": "debug output is not supported under load",
}
STEP_KEYS = frozenset({"desc", "if", "loop", "force", "test", "bind", "dump", "include", "defer"})
UNSUPPORTED_STEP_RUNNERS = {
    "exec": "exec (shell command) steps are not supported",
    "agent": "agent steps are not supported",
}
DUMP_KEYS = frozenset({"expr", "out", "disableTrailingNewline", "disableMaskingSecrets"})
LOOP_KEYS = frozenset(
    {"count", "until", "interval", "minInterval", "maxInterval", "multiplier", "jitter"}
)
RESERVED_NAMES = frozenset(
    {"vars", "steps", "parent", "included", "current", "previous", "env", "cookies", "nodes",
     "params", "i", "runn", "needs"}
)  # fmt: skip


@dataclass(slots=True)
class LoopSpec:
    location: Location
    count: int | YScalar = 3
    until: YScalar | None = None
    interval: float | None = None
    min_interval: float = 0.0
    max_interval: float = 0.0
    multiplier: float = 1.5
    jitter: float = 0.0


@dataclass(slots=True)
class DumpSpec:
    expr: YScalar
    out: YScalar | None = None  # a file path (a template), relative to the runbook
    trailing_newline: bool = True
    mask_secrets: bool = True


@dataclass(slots=True)
class IncludeSpec:
    path: Path
    display: str
    location: Location
    vars: YMap | None
    skip_test: bool = False
    force: bool = False
    inline: YMap | None = None  # `include: {steps: ...}`: the steps are right here


@dataclass(slots=True)
class BindSpec:
    key: YScalar
    value: YNode


@dataclass(slots=True)
class StepSpec:
    index: int
    key: str | None
    location: Location
    desc: str = ""
    if_: YScalar | None = None
    loop: LoopSpec | None = None
    force: bool = False
    defer: bool = False
    test: YScalar | None = None
    test_constant: bool | None = None
    binds: list[BindSpec] = field(default_factory=list)
    dump: DumpSpec | None = None
    runner: tuple[YScalar, YNode] | None = None  # `name: {/path: ...}`, parsed when compiled
    include: IncludeSpec | None = None
    defines: dict[str, RunnerSpec] | None = None  # `runner: {name: ...}`: for the steps after

    def label(self) -> str:
        """The step's name in reports: its key, else its desc, else its index."""
        if self.key is not None:
            return self.key
        if self.desc:
            return self.desc
        return f"steps[{self.index}]"


@dataclass(slots=True)
class BookSpec:
    path: str  # as shown in messages
    file: Path  # resolved, for includes and relative files
    desc: str = ""
    labels: list[str] = field(default_factory=list)
    runners: dict[str, RunnerSpec] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    steps: list[StepSpec] = field(default_factory=list)
    use_map: bool = False
    if_: YScalar | None = None
    force: bool = False
    skip_test: bool = False
    interval: float = 0.0
    loop: LoopSpec | None = None
    phases: list[tuple[str, float]] = field(default_factory=list)  # from `x-loadscope`
    host_rules: dict[str, str] = field(default_factory=dict)  # host -> address to connect to
    needs: list[tuple[str, IncludeSpec]] = field(default_factory=list)
    concurrency: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # `secrets:`, e.g. vars.password, env.TOKEN
    trace: bool = False  # runn's trace header on requests whose runner and request do not say

    @property
    def name(self) -> str:
        return self.file.stem


def parse_book(root: YNode | None, path: str, file: Path, warn: Warn) -> BookSpec:
    book = BookSpec(path=path, file=file)
    if root is None:
        raise RunbookError(Location(path), "the runbook is empty", "it needs at least `steps:`")
    if not isinstance(root, YMap):
        raise RunbookError(root.location, f"a runbook is a map, not {kind_of(root)}")
    for key_node, _ in root.items:
        key = key_node.value
        if key in TOP_LEVEL:
            continue
        if key in TOP_LEVEL_IGNORED:
            warn(key_node.location, f"`{key}` is ignored: {TOP_LEVEL_IGNORED[key]}")
        elif key == LOADSCOPE_KEY:
            book.phases = _loadscope_settings(root.get(key), warn)
        elif key.startswith("x-"):
            warn(key_node.location, f"`{key}` is ignored (an extension key)")
        else:
            hint = did_you_mean(key, TOP_LEVEL)
            warn(key_node.location, f"`{key}` is not a runbook key{hint}; it is ignored")
    book.desc = optional_string(root, "desc") or ""
    book.secrets = _secrets(root.get("secrets"))
    book.labels = _labels(root.get("labels"))
    book.runners = _runners(root.get("runners"), file.parent, warn)
    vars_node = root.get("vars")
    if kind_of(vars_node) not in ("null", "a map"):
        raise RunbookError(vars_node.location, f"`vars` is a map, not {kind_of(vars_node)}")  # type: ignore[union-attr]
    book.vars = _load_var_files(vars_node, file.parent) if isinstance(vars_node, YMap) else {}
    book.if_ = expression_node(root.get("if"), "if")
    book.force = flag(root, "force")
    book.skip_test = flag(root, "skipTest")
    book.interval = duration(root.get("interval"), "interval") or 0.0
    loop = root.get("loop")
    book.loop = None if absent(loop) else _loop(loop, warn)  # type: ignore[arg-type]
    book.host_rules = _host_rules(root.get("hostRules"))
    book.needs = _needs(root.get("needs"), book)
    book.concurrency = string_list(root.get("concurrency"), "concurrency")
    book.trace = flag(root, "trace")
    steps = root.get("steps")
    if steps is None:
        _no_steps(root)
    if isinstance(steps, YMap):
        book.use_map = True
        items: list[tuple[str | None, YNode]] = [(k.value, v) for k, v in steps.items]
    elif isinstance(steps, YSeq):
        items = [(None, item) for item in steps.items]
    else:
        raise RunbookError(steps.location, f"`steps` is a list or a map, not {kind_of(steps)}")
    for index, (key, node) in enumerate(items):
        book.steps.append(_step(index, key, node, book, warn))
    _check_unique_labels(book)
    return book


# -- top level ------------------------------------------------------------------------------------
def _no_steps(root: YMap) -> NoReturn:
    """The error for a runbook without `steps`, at the key that is probably it misspelt."""
    for key, _ in root.items:
        if key.value not in TOP_LEVEL and close_key(key.value, ["steps"]):
            hint = f"`{key.value}` is not a runbook key: did you mean `steps`?"
            raise RunbookError(key.location, "the runbook has no `steps`", hint)
    raise RunbookError(root.location, "the runbook has no `steps`")


def _host_rules(node: YNode | None) -> dict[str, str]:
    """`hostRules: {app.example.com: 127.0.0.1:8080}` (a map, or a list of `host address`)."""
    if node is None or absent(node):
        return {}
    if isinstance(node, YMap):
        return {key.value: str(plain(value)).strip() for key, value in node.items}
    if isinstance(node, YSeq):
        rules: dict[str, str] = {}
        for item in node.items:
            host, _, address = str(plain(item)).strip().partition(" ")
            if not address.strip():
                raise RunbookError(item.location, "a host rule is `host address`")
            rules[host] = address.strip()
        return rules
    raise RunbookError(node.location, f"`hostRules` is a map of host: address, not {kind_of(node)}")


def _needs(node: YNode | None, book: BookSpec) -> list[tuple[str, IncludeSpec]]:
    if node is None or absent(node):
        return []
    if not isinstance(node, YMap):
        raise RunbookError(node.location, f"`needs` is a map of name: runbook, not {kind_of(node)}")
    needs = []
    for key, value in node.items:
        if not isinstance(value, YScalar) or not isinstance(value.value, str):
            raise RunbookError(value.location, f"`needs.{key.value}` is a runbook path")
        needs.append((key.value, _include_spec(value.value, value, book, None)))
    return needs


def _labels(node: YNode | None) -> list[str]:
    if node is None or absent(node):
        return []
    if not isinstance(node, YSeq):
        raise RunbookError(node.location, f"`labels` is a list of strings, not {kind_of(node)}")
    return [str(plain(item)) for item in node.items]


LOADSCOPE_KEY = "x-loadscope"  # loadscope's own settings; runn ignores `x-` keys
REUSE_MODES = ("shared", "per-vu", "per-iteration", "none")


def _loadscope_settings(node: YNode | None, warn: Warn) -> list[tuple[str, float]]:
    """`x-loadscope: {phases: "shared:30s,per-iteration:30s"}` (or a list of such items, or
    of `{reuse: mode, duration: 30s}` maps): A/B phases of connection reuse for this run."""
    if node is None or absent(node):
        return []
    if not isinstance(node, YMap):
        raise RunbookError(node.location, f"`{LOADSCOPE_KEY}` is a map, not {kind_of(node)}")
    for key_node, _ in node.items:
        if key_node.value != "phases":
            warn(key_node.location, f"`{LOADSCOPE_KEY}.{key_node.value}` is not a setting")
    phases = node.get("phases")
    if phases is None or absent(phases):
        return []
    if isinstance(phases, YScalar) and isinstance(phases.value, str):
        items: list[YNode] = [phases]
    elif isinstance(phases, YSeq):
        items = list(phases.items)
    else:
        raise RunbookError(phases.location, "`phases` is `mode:duration, ...` or a list")
    result: list[tuple[str, float]] = []
    for item in items:
        result += _phase_items(item)
    return result


def _phase_items(item: YNode) -> list[tuple[str, float]]:
    if isinstance(item, YMap):
        mode_node = item.get("reuse")
        seconds = duration(item.get("duration"), "duration")
        if not isinstance(mode_node, YScalar) or seconds is None:
            raise RunbookError(item.location, "a phase needs `reuse` and `duration`")
        return [(_reuse_mode(mode_node, str(mode_node.value)), seconds)]
    if not isinstance(item, YScalar) or not isinstance(item.value, str):
        raise RunbookError(item.location, f"a phase is `mode:duration`, not {kind_of(item)}")
    phases = []
    for part in filter(None, (p.strip() for p in item.value.split(","))):
        mode, sep, length = part.partition(":")
        if not sep:
            raise RunbookError(item.location, f"phase {part!r} is not mode:duration")
        try:
            seconds = parse_duration(length)
        except DurationError as exc:
            raise RunbookError(item.location, f"phase {part!r}: {exc}") from None
        phases.append((_reuse_mode(item, mode.strip()), seconds))
    return phases


def _reuse_mode(node: YNode, mode: str) -> str:
    if mode not in REUSE_MODES:
        raise RunbookError(
            node.location, f"unknown reuse mode {mode!r}", f"use {', '.join(REUSE_MODES)}"
        )
    return mode


def _load_var_files(node: YMap, directory: Path) -> dict[str, Any]:
    """runn's `json://file.json` and `yaml://file.yml` var values, read at load."""
    values: dict[str, Any] = {}
    for key, value in node.items:
        values[key.value] = plain(value)
        if isinstance(value, YScalar) and isinstance(value.value, str):
            values[key.value] = read_var_file(value.value, directory, value.location)
    return values


def read_var_file(text: str, directory: Path, location: Location) -> Any:
    for scheme in ("json://", "yaml://"):
        if text.startswith(scheme) and "{{" not in text:
            file = directory / text[len(scheme) :]
            try:
                content = read_input_file(file).decode("utf-8")
            except (InputFileError, UnicodeDecodeError) as exc:
                raise RunbookError(location, f"cannot read {text}: {exc}") from None
            try:
                if scheme == "json://":
                    return json.loads(content)
                import yaml

                return yaml.safe_load(content)
            except Exception as exc:  # any parse failure of the user's file
                raise RunbookError(location, f"cannot parse {text}: {exc}") from None
    return text


# -- runners --------------------------------------------------------------------------------------
def _runners(
    node: YNode | None, directory: Path, warn: Warn, what: str = "runners"
) -> dict[str, RunnerSpec]:
    if node is None or absent(node):
        return {}
    if not isinstance(node, YMap):
        raise RunbookError(node.location, f"`{what}` is a map of runners, not {kind_of(node)}")
    runners: dict[str, RunnerSpec] = {}
    for key, value in node.items:
        name = key.value
        if name in UNSUPPORTED_STEP_RUNNERS or name in STEP_KEYS or name == "runner":
            raise RunbookError(key.location, f"`{name}` cannot be a runner name (it is a step key)")
        runners[name] = parse_runner(name, key.location, value, directory, warn)
    return runners


# -- steps ----------------------------------------------------------------------------------------
def _one_runner(runners: list[tuple[YScalar, YNode]], book: BookSpec) -> None:
    """The error for a step with more than one runner key, naming the one that is probably a
    misspelt step key (`tset`), if one is."""
    names = ", ".join(k.value for k, _ in runners)
    for key, _ in runners:
        typo = None if key.value in book.runners else close_key(key.value, STEP_KEYS)
        if typo is not None:
            message = f"a step runs one runner; this one has {names}"
            raise RunbookError(
                key.location, message, f"`{key.value}` is not a step key: did you mean `{typo}`?"
            )
    raise RunbookError(runners[1][0].location, f"a step runs one runner; this one has {names}")


def _step(index: int, key: str | None, node: YNode, book: BookSpec, warn: Warn) -> StepSpec:
    if not isinstance(node, YMap):
        where = f"step {key!r}" if key is not None else f"steps[{index}]"
        raise RunbookError(node.location, f"{where} is a map, not {kind_of(node)}")
    step = StepSpec(index=index, key=key, location=node.location)
    step.desc = optional_string(node, "desc") or ""
    step.if_ = expression_node(node.get("if"), "if")
    step.force = flag(node, "force")
    loop = node.get("loop")
    step.loop = None if absent(loop) else _loop(loop, warn)  # type: ignore[arg-type]
    _test(node.get("test"), step)
    _binds(node.get("bind"), step)
    step.dump = _dump(node.get("dump"), warn)
    step.defer = flag(node, "defer")
    runners = [(k, v) for k, v in node.items if k.value not in STEP_KEYS]
    if node.get("include") is not None:
        runners.insert(0, (node.key_node("include"), node.get("include")))  # type: ignore[arg-type]
    if len(runners) > 1:
        _one_runner(runners, book)
    if runners:
        key_node, value = runners[0]
        if key_node.value == "include":
            step.include = _include(value, book, warn)
        elif key_node.value == "runner":  # runn's Runner Runner: runners for the steps after
            step.defines = _runners(value, book.file.parent, warn, "runner")
        elif key_node.value in UNSUPPORTED_STEP_RUNNERS:
            raise RunbookError(key_node.location, UNSUPPORTED_STEP_RUNNERS[key_node.value])
        else:
            step.runner = (key_node, value)
    return step


def _test(node: YNode | None, step: StepSpec) -> None:
    if node is None or absent(node):
        return
    if isinstance(node, YScalar) and isinstance(node.value, bool):
        step.test_constant = node.value
        step.test = node
        return
    if not isinstance(node, YScalar) or not isinstance(node.value, str):
        raise RunbookError(
            node.location, f"`test` is an expression or a boolean, not {kind_of(node)}"
        )
    step.test = node


def _binds(node: YNode | None, step: StepSpec) -> None:
    if node is None or absent(node):
        return
    if not isinstance(node, YMap):
        raise RunbookError(
            node.location, f"`bind` is a map of name: expression, not {kind_of(node)}"
        )
    step.binds = [BindSpec(key, value) for key, value in node.items]


def _dump(node: YNode | None, warn: Warn) -> DumpSpec | None:
    """`dump: expr`, or `dump: {expr, out, disableTrailingNewline, disableMaskingSecrets}`."""
    if node is None or absent(node):
        return None
    if not isinstance(node, YMap):
        return DumpSpec(_dump_expression(node))
    for key_node, _ in node.items:
        if key_node.value not in DUMP_KEYS:
            warn(key_node.location, f"`dump.{key_node.value}` is ignored")
    expr = node.get("expr")
    if expr is None:
        raise RunbookError(node.location, "`dump` needs `expr`")
    out = node.get("out")
    if out is not None and absent(out):
        out = None
    if out is not None and (not isinstance(out, YScalar) or not isinstance(out.value, str)):
        raise RunbookError(out.location, f"`dump.out` is a file path, not {kind_of(out)}")
    return DumpSpec(
        _dump_expression(expr),
        out,
        trailing_newline=not flag(node, "disableTrailingNewline"),
        mask_secrets=not flag(node, "disableMaskingSecrets"),
    )


def _dump_expression(node: YNode) -> YScalar:
    if (
        isinstance(node, YScalar)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return YScalar(node.location, str(node.value), node.text, node.style, node.source)
    if not isinstance(node, YScalar) or not isinstance(node.value, str):
        raise RunbookError(node.location, f"`dump` is an expression, not {kind_of(node)}")
    return node


def _loop(node: YNode, warn: Warn) -> LoopSpec:
    spec = LoopSpec(node.location)
    if isinstance(node, YScalar):
        spec.count = _count(node)
        return spec
    if not isinstance(node, YMap):
        raise RunbookError(node.location, f"`loop` is a count or a map, not {kind_of(node)}")
    for key_node, _ in node.items:
        if key_node.value not in LOOP_KEYS:
            warn(key_node.location, f"`loop.{key_node.value}` is not a loop key; it is ignored")
    count = node.get("count")
    if count is not None:
        spec.count = _count(count)
    until = node.get("until")
    spec.until = expression_node(until, "loop.until")
    spec.interval = duration(node.get("interval"), "loop.interval")
    has_backoff = node.get("minInterval") is not None or node.get("maxInterval") is not None
    if spec.interval is None and spec.until is None and not has_backoff:
        spec.interval = 0.0  # a plain counted loop runs back to back
    spec.min_interval = duration(node.get("minInterval"), "loop.minInterval") or 0.0
    spec.max_interval = duration(node.get("maxInterval"), "loop.maxInterval") or 0.0
    spec.multiplier = number(node.get("multiplier"), "loop.multiplier", 1.5)
    spec.jitter = number(node.get("jitter"), "loop.jitter", 0.0)
    return spec


def _count(node: YNode) -> int | YScalar:
    if isinstance(node, YScalar):
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node.value, str):
            return node
    raise RunbookError(
        node.location, f"`loop.count` is a number or an expression, not {kind_of(node)}"
    )


def _include(node: YNode, book: BookSpec, warn: Warn) -> IncludeSpec:
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return _include_spec(node.value, node, book, None)
    if not isinstance(node, YMap):
        raise RunbookError(node.location, f"`include` is a path or a map, not {kind_of(node)}")
    if node.get("steps") is not None:
        for key_node, _ in node.items:
            if key_node.value not in ("steps", "vars", "skipTest", "force"):
                warn(key_node.location, f"`include.{key_node.value}` is ignored")
        variables = node.get("vars")
        if variables is not None and not isinstance(variables, YMap):
            raise RunbookError(variables.location, "`include.vars` is a map")
        spec = IncludeSpec(book.file, book.path, node.location, variables, inline=node)
        spec.skip_test = flag(node, "skipTest")
        spec.force = flag(node, "force")
        return spec
    path = node.get("path")
    if not isinstance(path, YScalar) or not isinstance(path.value, str):
        raise RunbookError(node.location, "`include` needs a `path` to a runbook")
    for key_node, _ in node.items:
        if key_node.value not in ("path", "vars", "skipTest", "force"):
            warn(key_node.location, f"`include.{key_node.value}` is ignored")
    variables = node.get("vars")
    if variables is not None and not isinstance(variables, YMap):
        raise RunbookError(variables.location, f"`include.vars` is a map, not {kind_of(variables)}")
    spec = _include_spec(path.value, path, book, variables)
    spec.skip_test = flag(node, "skipTest")
    spec.force = flag(node, "force")
    return spec


def _include_spec(text: str, node: YScalar, book: BookSpec, variables: YMap | None) -> IncludeSpec:
    if "{{" in text:
        raise RunbookError(node.location, "an include path cannot be a template")
    relative = text.removeprefix("file://")
    if "://" in relative:
        raise RunbookError(node.location, f"cannot include {text!r}: only local files")
    path = (book.file.parent / relative).resolve()
    display = (
        str(Path(book.path).parent / relative) if not Path(relative).is_absolute() else relative
    )
    problem = input_file_problem(path)
    if problem:
        raise RunbookError(node.location, f"cannot include {text!r}: {problem}")
    return IncludeSpec(path=path, display=display, location=node.location, vars=variables)


def _secrets(node: YNode | None) -> list[str]:
    """runn's `secrets:`: the values (`vars.x`, `env.X`) that every output masks."""
    if node is None or absent(node):
        return []
    items = node.items if isinstance(node, YSeq) else [node]
    names = [item.value for item in items if isinstance(item, YScalar)]
    if len(names) != len(items) or not all(isinstance(name, str) for name in names):
        raise RunbookError(node.location, "`secrets` is a list of names such as vars.password")
    return [str(name) for name in names]


def _check_unique_labels(book: BookSpec) -> None:
    seen: dict[str, StepSpec] = {}
    for step in book.steps:
        label = step.label()
        if label in seen:  # two steps with the same desc: tell them apart by index
            step.desc = ""
            label = step.label()
        seen[label] = step


def reserved(name: str) -> bool:
    return name in RESERVED_NAMES
