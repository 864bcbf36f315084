"""`load_runbooks`: read, check and compile runbooks into a scenario the engine runs."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config import RunnerConfig
from ..files import input_file_problem
from ..redact import MASK, MIN_SECRET, credential_values, mask_credential_assignments
from ..session.scenario import IterationFailed, RequestFailed
from ._compile import compile_top
from ._errors import ExpressionError, Location, RunbookError
from ._expression import compile_expression
from ._options import DEFAULT_OPTIONS, RunbookOptions
from ._parser import parse
from ._program import BookProgram, StepOutcome
from ._registry import Registry
from ._side_by_side import run_side_by_side
from ._var_overrides import parse_var_value

__all__ = [
    "RunbookScenario",
    "StepOutcome",
    "compile_runbooks",
    "load_runbooks",
    "parse_var_value",
    "select_by_labels",
    "skip_included",
]
from ._request import RequestProgram

if TYPE_CHECKING:
    from ..metrics import StepStats
    from ..session.scenario import VirtualUserView as VirtualUser
    from ..transport import Runner

NO_LOAD_WARNING = (
    "the runbook sends no HTTP load (no step makes a request): it runs its tests and reports "
    "0 requests"
)


class RunbookScenario:
    """One or more runbooks as one scenario: an iteration is one pass over each, in order."""

    def __init__(self, books: list[BookProgram], registry: Registry, paths: list[str]) -> None:
        self.name = ", ".join(paths)
        self.paths = paths
        # `x-loadscope: {phases: ...}` of the first runbook that has it: (reuse mode, seconds)
        self.phases: list[tuple[str, float]] = []
        self.secret_values: tuple[str, ...] = ()  # `secrets:` values: every output masks them
        self.books = books
        self.warnings: list[str] = list(registry.warnings)
        self._registry = registry
        self.options = registry.options
        self._runner_configs = list(registry.runners.values())
        self._step_names = list(registry.step_names)
        self._requests = list(registry.requests)
        self._cookie_reset = [
            index > 0 and any(r.use_cookie for r in self._requests_of(book))
            for index, book in enumerate(books)
        ]
        self._dump_sink: Callable[[str, Any], None] | None = None
        self.sends_requests = bool(self._requests)
        # for the session's event log (the console shows it)
        self.event_warnings: list[str] = [] if self.sends_requests else [self.no_load_warning]
        # runn's --concurrent: how many of an iteration's runbooks run at once
        self.at_once = min(self.options.concurrent, len(books))
        if len(books) == 1:  # the engine awaits the runbook's own pass: one coroutine less
            self.run_iteration = books[0].run  # type: ignore[method-assign,assignment]
        elif self.at_once > 1:
            self.run_iteration = self.run_side_by_side  # type: ignore[method-assign]

    @property
    def no_load_warning(self) -> str:
        return NO_LOAD_WARNING

    def _requests_of(self, book: BookProgram) -> list[RequestProgram]:
        found: list[RequestProgram] = []
        for step in book.steps:
            if step.request is not None:
                found.append(step.request)
            if step.include is not None:
                found += self._requests_of(step.include.book)
        return found

    # -- the Scenario protocol --------------------------------------------------------------------
    def runner_configs(self) -> Sequence[RunnerConfig]:
        return self._runner_configs

    def step_names(self) -> Sequence[str]:
        return self._step_names

    def targets(self) -> Sequence[str]:
        return list(dict.fromkeys(config.base_url for config in self._runner_configs))

    def prepare(self, runners: Mapping[str, Runner], steps: Mapping[str, StepStats]) -> None:
        for request in self._requests:
            request.prepare(runners[request.runner_name], steps[request.step_name])

    async def run_iteration(self, vu: VirtualUser) -> None:
        """A pass over each runbook in turn. A runbook that fails does not stop the next one
        (as runn runs each runbook given), unless `fail_fast`; the iteration fails with the
        first failure."""
        first: IterationFailed | RequestFailed | None = None
        for book, reset_cookies in zip(self.books, self._cookie_reset, strict=True):
            if reset_cookies:  # each runbook's pass has its own cookies, as runn's operators do
                vu.reset_cookies()
            try:
                await book.run(vu)
            except (IterationFailed, RequestFailed) as exc:
                if self.options.fail_fast:
                    raise
                first = first or exc
        if first is not None:
            try:
                raise first
            finally:
                del first  # else the traceback holds this frame, and the frame the exception

    async def run_side_by_side(self, vu: VirtualUser) -> None:
        """The runbooks at once, up to `at_once` (runn's --concurrent), each with its own jar."""
        await run_side_by_side(
            self.books,
            vu,
            at_once=self.at_once,
            fail_fast=self.options.fail_fast,
            own_jars=any(request.keep_cookies for request in self._requests),
        )

    # -- extras for the command line and the console ----------------------------------------------
    def limit_header_size(self, size: int) -> None:
        """Every runner's cap on a response's header block (`--max-header-size`)."""
        self._runner_configs = [
            replace(config, max_header_size=size) for config in self._runner_configs
        ]

    def add_headers(self, headers: Sequence[tuple[str, str]]) -> None:
        """Headers (`-H`) sent with every request, unless a step sets the same header."""
        for request in self._requests:
            request.extra_headers.extend(headers)

    @property
    def dump_sink(self) -> Callable[[str, Any], None] | None:
        """Called with (step name, value) for every `dump`; dumps are dropped without one."""
        return self._dump_sink

    @dump_sink.setter
    def dump_sink(self, sink: Callable[[str, Any], None] | None) -> None:
        self._dump_sink = sink
        for book in self._registry.books:
            book.dump_sink = sink

    def report_steps(self, sink: Callable[[StepOutcome], None] | None) -> None:
        """Tell `sink` every step's outcome, included runbooks' too (for `--iterations`)."""
        for book in self._registry.books:
            book.step_sink = sink


def load_runbooks(
    paths: Sequence[str | Path],
    vars: Mapping[str, object] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    options: RunbookOptions = DEFAULT_OPTIONS,
) -> RunbookScenario:
    """Read, check and compile runbooks. Pure: nothing is sent anywhere. Raises RunbookError."""
    scenario = compile_runbooks(paths, vars, env=env, options=options)
    all_skipped = _say_what_is_skipped(scenario)
    if not scenario.step_names() and not all_skipped:
        scenario.warnings.append(f"{scenario.paths[0]}: warning: {scenario.no_load_warning}")
    return scenario


def _say_what_is_skipped(scenario: RunbookScenario) -> bool:
    """A runbook its own `if` skips is said so, with the condition and why it is false. runn
    skips it, and so does a run: its iterations pass without a step, as runn's do. True when
    every runbook is skipped and nothing they need sends."""
    skipped = [book.never_runs for book in scenario.books if book.never_runs]
    all_skipped = len(skipped) == len(scenario.books) and not scenario.sends_requests
    tail = ": every iteration skips it and sends nothing" if all_skipped else ""
    for where, why in skipped:
        scenario.warnings.append(f"{where}: warning: {why}{tail}")
    return all_skipped


def select_by_labels(
    paths: Sequence[str], labels: Sequence[str], *, env: Mapping[str, str] | None = None
) -> list[str]:
    """The runbooks whose `labels:` match any of `labels`, as runn's `--label` matches them:
    each is a label, or labels joined by `and`, `or`, `not` (or `!`)."""
    condition = compile_expression(label_condition(labels), origin="--label")
    registry = Registry(env=dict(os.environ if env is None else env))
    chosen = []
    for display in paths:
        book = registry.read(Path(display).resolve(), display)
        if condition.evaluate({"labels": dict.fromkeys(book.labels, True)}) is True:
            chosen.append(display)
    return chosen


def skip_included(paths: Sequence[str], *, env: Mapping[str, str] | None = None) -> list[str]:
    """runn's `--skip-included`: the runbooks without those another of them includes (by an
    `include:` step), which run inside their includer only. One whose includers are all
    included themselves still runs, after the others, as in runn."""
    registry = Registry(env=dict(os.environ if env is None else env))
    includers: dict[Path, list[str]] = {}
    for display in dict.fromkeys(paths):
        for step in registry.read(Path(display).resolve(), display).steps:
            include = step.include
            if include is not None and include.inline is None:
                includers.setdefault(include.path, []).append(display)
    included = [path for path in paths if Path(path).resolve() in includers]
    kept = [path for path in paths if path not in included]
    orphans = [
        path
        for path in included
        if not any(includer in kept for includer in includers[Path(path).resolve()])
    ]
    return kept + orphans


def label_condition(labels: Sequence[str]) -> str:
    """`users and !auth` -> `(labels["users"] ?? false) and not (labels["auth"] ?? false)`;
    parentheses group. A label expression that does not parse is a RunbookError."""
    return " or ".join(_label_term(label) for label in labels)


def _label_term(label: str) -> str:
    words = [
        word if word in _LABEL_OPERATORS else f"(labels[{json.dumps(word)}] ?? false)"
        for word in _LABEL_WORD.findall(label.replace("!", " not "))
    ]
    term = " ".join(words)
    try:
        parse(term)
    except ExpressionError:  # its message would quote the expression made here, not the label
        raise RunbookError(
            Location("--label", 0),
            f"`{label}` does not parse",
            "labels joined by and, or, not (or !), grouped by parentheses",
        ) from None
    return f"({term})"


_LABEL_WORD = re.compile(r"[()]|[^\s()]+")
_LABEL_OPERATORS = frozenset({"and", "or", "not", "(", ")"})


def compile_runbooks(
    paths: Sequence[str | Path],
    vars: Mapping[str, object] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    options: RunbookOptions = DEFAULT_OPTIONS,
) -> RunbookScenario:
    """`load_runbooks` without the check that something is sent (for runbooks of tests only)."""
    if not paths:
        raise RunbookError(Location("loadscope"), "no runbook given")
    problem = options.scope_problem()
    if problem:
        raise RunbookError("--scopes", problem)
    overrides = dict(vars or {})
    env = dict(os.environ if env is None else env)
    registry = Registry(env=env, options=options, var_overrides=overrides)
    displays = [str(path) for path in paths]
    registry.read_openapi()
    try:
        return _compile_all(registry, displays)
    except RunbookError as exc:  # it may echo runbook text: mask what outputs would mask
        raise _masked(exc, registry, overrides) from None


def _compile_all(registry: Registry, displays: list[str]) -> RunbookScenario:
    books: list[BookProgram] = []
    names: set[str] = set()
    phases: list[tuple[str, float]] = []
    secret_values: list[str] = []
    for display in displays:
        file = Path(display).resolve()
        problem = input_file_problem(file)
        if problem:
            reason = "no such runbook file" if problem == "no such file" else problem
            raise RunbookError(Location(display), reason)
        spec = registry.read_top(file, display)
        phases = phases or spec.phases
        name = spec.name
        number = 2
        while name in names:
            name, number = f"{spec.name}#{number}", number + 1
        names.add(name)
        book = compile_top(registry, spec, (file,), name)
        secret_values += _secret_values(spec.secrets, book.static_vars, registry.env)
        books.append(book)
    for book in registry.books:  # included runbooks' too, with the vars they are given
        secret_values += credential_values(book.static_vars)
    uses_cookies = any(request.use_cookie for request in registry.requests)
    for request in registry.requests:
        request.keep_cookies = uses_cookies
    if any(book.log_cookies for book in registry.books):  # includes share the `cookies` log
        for book in registry.books:
            book.log_cookies = True
    locks: dict[str, asyncio.Lock] = {}  # one set per scenario: each session has its own
    for book in registry.books:
        for step in book.steps:
            if step.request is not None:
                step.request.keep_body = (
                    registry.all_bodies
                    or step.index in book.body_steps
                    or step.request.openapi is not None  # its JSON is checked
                )
        book.locks = locks
        book.record_results = registry.results_read
        book.needs_view = registry.results_read or book.log_cookies or uses_cookies
    scenario = RunbookScenario(books, registry, displays)
    scenario.phases = phases
    scenario.secret_values = tuple(secret_values)
    return scenario


def _masked(
    error: RunbookError, registry: Registry, overrides: Mapping[str, object]
) -> RunbookError:
    """`error` with the values of credential-named vars, of `secrets:` and of any
    `password: ...`-like text it echoes masked."""
    values = credential_values(dict(overrides))
    for spec in registry.parsed.values():
        values += credential_values(spec.vars)
        values += _secret_values(spec.secrets, spec.vars, registry.env)
    values = sorted({value for value in values if len(value) >= MIN_SECRET}, key=len, reverse=True)

    def mask(text: str) -> str:
        text = mask_credential_assignments(text)
        for value in values:
            text = text.replace(value, MASK)
        return text

    hint = mask(error.hint) if error.hint else None
    return RunbookError(error.location, mask(error.message), hint)


def _secret_values(
    names: list[str], variables: Mapping[str, Any], env: Mapping[str, str]
) -> list[str]:
    """The values `secrets:` names that are known at load (vars, env); outputs mask them."""
    values: list[str] = []
    for name in names:
        root, _, path = name.partition(".")
        value: Any = variables if root == "vars" else env if root == "env" else None
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            values.append(str(value))
    return values
