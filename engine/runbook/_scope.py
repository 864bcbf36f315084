"""What a runbook's expressions read while one pass runs: its vars, steps, binds and cookies.

Names are resolved when an expression is compiled: `vars` of a runbook whose vars are known at
load folds to a constant, `current` becomes an attribute read, a bound name a dict lookup. A
name that nothing can define is a load-time error, not a nil at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._ast import Binary, Literal, Member, Name, Node
from ._errors import ExpressionError, Location
from ._expression import walk
from ._response import ResponseView, cookie_expired
from ._values import Constant, Getter, MapGetter

if TYPE_CHECKING:
    from ..session.scenario import VirtualUserView as VirtualUser

UNDEFINED_HINT = "not in vars, not bound by an earlier step, not a built-in name"


class Scope:
    """The state of one pass over one runbook, for one virtual user."""

    __slots__ = (
        "binds",
        "cookie_log",
        "current",
        "deferred",
        "deferred_shared",
        "loop_index",
        "needs",
        "outcome",
        "parent",
        "previous",
        "recording",
        "records",
        "steps",
        "vars",
        "vu",
    )

    def __init__(
        self,
        vu: VirtualUser,
        variables: dict[str, Any],
        use_map: bool,
        parent: dict[str, Any] | None,
        cookie_log: list[ResponseView],
        recording: bool = True,
    ) -> None:
        self.vu = vu
        self.recording = recording  # False when no expression of the run reads step results
        self.vars = variables
        self.binds: dict[str, Any] = {}
        self.parent = parent
        self.cookie_log = cookie_log
        self.outcome: str | None = None
        self.loop_index: int | None = None
        self.needs: dict[str, dict[str, Any]] = {}
        # deferred steps waiting for the end of the top runbook's pass: (book, step, scope),
        # the list shared with every runbook it includes
        self.deferred: list[tuple[Any, Any, Scope]] = []
        self.deferred_shared = False  # the list is the including runbook's: it runs them
        self.current: dict[str, Any] | None = None
        self.previous: dict[str, Any] | None = None
        self.records: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] | dict[str, dict[str, Any]] = (
            {} if use_map else self.records
        )

    def new_pass(self, use_map: bool) -> None:
        """A root `loop` starts each pass with no step results; binds are kept (as in runn)."""
        self.records = []
        self.steps = {} if use_map else self.records
        self.current = self.previous = None

    def record(self, index: int, key: str | None, record: dict[str, Any]) -> None:
        if not self.recording:
            return
        records = self.records
        if index < len(records):
            records[index] = record
        else:
            records.append(record)
        if key is not None:
            steps = self.steps
            assert isinstance(steps, dict)  # map-form runbooks have keys
            steps[key] = record
        self.current = record
        self.previous = records[index - 1] if index else None

    def before_step(self) -> None:
        """`previous` as a step sees it before its own result exists: the latest result."""
        self.current = None
        self.previous = self.records[-1] if self.records else None

    def cookies(self) -> dict[str, dict[str, Any]]:
        """`cookies[host][name]`: every cookie received so far in this pass."""
        jar: dict[str, dict[str, Any]] = {}
        for response in self.cookie_log:
            for name, cookie in response.get("cookies").items():
                domain = jar.setdefault(cookie["Domain"], {})
                if cookie_expired(cookie):
                    domain.pop(name, None)
                else:
                    domain[name] = cookie
        return jar

    def as_parent(self, env: Mapping[str, str]) -> dict[str, Any]:
        """What an included runbook sees as `parent`."""
        view: dict[str, Any] = {"env": env, "vars": self.vars, "steps": self.steps, **self.binds}
        if self.loop_index is not None:
            view["i"] = self.loop_index
        return view

    def as_included(self, env: Mapping[str, str]) -> dict[str, Any]:
        """What the including step records: the included runbook's vars, steps and binds."""
        return {"env": env, "vars": self.vars, "steps": self.steps, **self.binds}


@dataclass(slots=True)
class NameRules:
    """Which names an expression may read, decided by where it sits in the runbook."""

    env: Mapping[str, str]
    var_keys: frozenset[str]
    static_vars: dict[str, Any] | None  # None: vars differ per include invocation
    bound: frozenset[str]  # names bound by earlier steps (or any step, under a root loop)
    in_loop: bool = False
    included: bool = False
    outcome: bool = False  # a root loop's `until` may read `outcome`
    uses_cookies: Callable[[], None] | None = None
    reads_results: Callable[[], None] | None = None
    step_keys: frozenset[str] | None = None  # a map-form runbook's step names
    step_count: int | None = None  # a list-form runbook's number of steps
    directory: Path | None = None  # the runbook's, for `file()`
    body_reader: Callable[[Node], None] | None = None  # told every expression compiled here
    warn: Callable[[Location, str], None] | None = None  # a load warning at a place

    def check(self, tree: Node) -> frozenset[int]:
        """Raise for a typo'd var or step; return the nodes whose nil is expected (see below)."""
        guarded = nil_guarded(tree)
        for node in walk(tree):
            # `vars.maybe ?? 1`: a default for a var or step that may be missing, as in runn
            maybe = id(node) in guarded
            self._check_step(node, maybe)
            if (
                not maybe
                and isinstance(node, Member)
                and isinstance(node.obj, Name)
                and node.obj.name == "vars"
                and isinstance(node.key, Literal)
                and isinstance(node.key.value, str)
                and node.key.value not in self.var_keys
            ):
                known = ", ".join(sorted(self.var_keys)) or "none"
                raise ExpressionError(
                    f"unknown var `{node.key.value}`", node.key.start, f"vars defined: {known}"
                )
        return guarded

    def resolver(self, guarded: frozenset[int]) -> Callable[[Name], Getter | Constant]:
        """`resolve`, except that a guarded unknown name reads the binds (nil until bound)."""

        def resolve(node: Name) -> Getter | Constant:
            try:
                return self.resolve(node)
            except ExpressionError:
                if id(node) not in guarded:
                    raise
            name = node.name
            return lambda scope: scope.binds.get(name)

        return resolve

    def _check_step(self, node: Node, maybe: bool) -> None:
        """`steps.nope` or `steps[9]` of a runbook without them: a load error, not a nil
        (`steps.nope ?? x` is nil-guarded: `maybe`; an index out of range fails even then)."""
        if not (
            isinstance(node, Member)
            and isinstance(node.obj, Name)
            and node.obj.name == "steps"
            and isinstance(node.key, Literal)
        ):
            return
        key = node.key.value
        keys = self.step_keys
        if not maybe and keys is not None and isinstance(key, str) and key not in keys:
            known = ", ".join(sorted(keys)) or "none"
            raise ExpressionError(f"unknown step `{key}`", node.key.start, f"steps: {known}")
        count = self.step_count
        if count is not None and type(key) is int and not -count <= key < count:
            raise ExpressionError(
                f"no step {key}: the runbook has {count} steps", node.key.start, "steps[0] is first"
            )

    def resolve(self, node: Name) -> Getter | Constant:
        name = node.name
        if name == "vars":
            if self.static_vars is not None:
                return Constant(self.static_vars)
            return _VARS
        if name == "env":
            return Constant(self.env)
        if name == "included":
            return Constant(self.included)
        if name == "i":
            if not self.in_loop:
                raise ExpressionError(
                    "`i` is only set inside a step with `loop`", node.start, "add a loop"
                )
            return _LOOP_INDEX
        if name == "cookies":
            if self.uses_cookies is not None:
                self.uses_cookies()
            return _cookies
        if name == "outcome" and self.outcome:
            return _OUTCOME
        if name in _RESULT_NAMES and self.reads_results is not None:
            self.reads_results()
        if name in _SCOPE_GETTERS:
            return _SCOPE_GETTERS[name]
        if name in self.bound:
            return lambda scope: scope.binds.get(name)
        raise ExpressionError(f"unknown name `{name}`", node.start, UNDEFINED_HINT)


def nil_guarded(tree: Node) -> frozenset[int]:
    """The ids of the nodes whose value may be nil by design: the left side of `??`, the object
    of `?.`, a side of `== nil` or `!= nil`. A missing var or step there is nil, not a typo."""
    guarded: set[int] = set()
    for node in walk(tree):
        if isinstance(node, Binary) and node.op == "??":
            guarded.add(id(node.left))
        elif isinstance(node, Binary) and node.op in ("==", "!="):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if isinstance(other, Literal) and other.value is None:
                    guarded.add(id(side))
        elif isinstance(node, Member) and node.optional:
            guarded.update((id(node), id(node.obj)))
    return frozenset(guarded)


_RESULT_NAMES = frozenset({"steps", "current", "previous", "parent"})
_VARS = attrgetter("vars")
_LOOP_INDEX = attrgetter("loop_index")
_OUTCOME = attrgetter("outcome")
_SCOPE_GETTERS: dict[str, Getter] = {
    "steps": attrgetter("steps"),
    "current": attrgetter("current"),
    "previous": attrgetter("previous"),
    "parent": attrgetter("parent"),
    "needs": attrgetter("needs"),
    "runn": MapGetter({"i": lambda scope: scope.vu.iteration}),
}


def _cookies(scope: Scope) -> dict[str, dict[str, Any]]:
    return scope.cookies()
