"""What an iteration runs: compiled runbooks and steps, with runn's step semantics.

Within a step the order is request → dump → bind → test. A failed step fails the iteration and
skips the steps after it, unless the runbook or a later step says `force`. A step with a `loop`
runs up to `count` attempts, until `until` holds; `steps[i]` then holds its last attempt, and
whether that attempt failed decides the step.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..redact import credential_values, learn_secret
from ..session.redirects import REDIRECT_STATUSES
from ..session.scenario import IterationFailed, RequestFailed
from ._dump import DumpOut
from ._errors import EvalError, one_line
from ._request import RequestProgram
from ._scope import Scope
from ._template import Template
from ._values import Getter, plain
from ._why import Why

if TYPE_CHECKING:
    from ..session.scenario import VirtualUserView as VirtualUser
    from ._response import ResponseView

DumpSink = Callable[[str, Any], None]


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What became of one step in one pass: `success`, `failure` (with why) or `skipped`."""

    step: str
    outcome: str
    reason: str = ""
    iteration: int | None = None  # the run-wide iteration (runn.i) it belongs to


StepSink = Callable[[StepOutcome], None]


class ExpressionFailed(IterationFailed):
    """An expression failed while running: this fails the step at once, even inside a loop."""


class TestFailed(IterationFailed):
    """A step's `test` is not true. In a loop, runn tests every attempt and retries a false
    one like a failed request (`run_loop`)."""


def _failed(step: str, part: str, error: EvalError) -> ExpressionFailed:
    return ExpressionFailed(f"{step}: {part} failed: {one_line(str(error), 200)}")


def evaluate_part(getter: Getter, scope: Any, step: str, part: str) -> Any:
    """`getter(scope)`; an expression that fails fails the step, naming the part that did."""
    try:
        return getter(scope)
    except EvalError as exc:
        raise _failed(step, part, exc) from None


Attempt = Callable[[], Awaitable[object]]


async def run_loop(
    loop: LoopProgram, scope: Scope, name: str, attempt: Attempt, before: Callable[[int], None]
) -> None:
    """Up to `count` attempts, until `until` holds: the one loop of steps and of root loops.

    As in runn (0.140 on), an attempt's failure (a false `test`, a failed request) is kept, not
    raised, and the next attempt runs. With `until`, the loop fails if it never holds, and a
    step's loop fails if the attempt where it held failed; without, a step's loop is judged by
    its last attempt and a root loop by every pass. A failed expression fails at once.
    """
    count = loop.times(scope, name)
    first_error: IterationFailed | RequestFailed | None = None
    error: IterationFailed | RequestFailed | None = None
    for number in range(count):
        wait = loop.pause(number)
        if wait:
            await asyncio.sleep(wait)
        before(number)
        error = None
        try:
            await attempt()
        except ExpressionFailed:
            raise
        except (IterationFailed, RequestFailed) as exc:
            error = exc
            first_error = first_error or exc
        if not loop.step_level:
            scope.outcome = "failure" if error is not None else "success"
        if loop.until is None:
            continue
        if evaluate_part(loop.until, scope, name, "loop.until") is True:
            if error is not None and loop.step_level:
                raise error
            return
    if loop.until is not None:
        raise IterationFailed(f"{name}: loop failed: ({loop.until_source}) is not true")
    failed = error if loop.step_level else first_error
    if failed is not None:
        raise failed


@dataclass(slots=True)
class LoopProgram:
    count: Getter
    until: Getter | None = None
    until_source: str = ""
    interval: float | None = None
    min_interval: float = 0.0
    max_interval: float = 0.0
    multiplier: float = 1.5
    jitter: float = 0.0
    step_level: bool = True  # a step's loop (its last attempt's failure counts); else a root's

    def pause(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (the first one waits nothing)."""
        if attempt == 0:
            return 0.0
        if self.interval is not None:
            wait = self.interval
        else:
            try:
                grown = self.min_interval * self.multiplier ** (attempt - 1)
            except OverflowError:
                grown = self.max_interval
            wait = min(grown, self.max_interval)
        if self.jitter and wait:
            wait *= 1 + self.jitter * random.uniform(-1, 1)
        return max(wait, 0.0)

    def times(self, scope: Scope, step: str) -> int:
        count = evaluate_part(self.count, scope, step, "loop.count")
        if type(count) is str and count.strip().lstrip("-").isdigit():
            count = int(count)
        if type(count) is float:
            count = int(count)
        if type(count) is not int:
            raise ExpressionFailed(f"{step}: loop.count is {type(count).__name__}, not a number")
        return count


@dataclass(slots=True)
class BindProgram:
    """`name: expression`, `name[]: expression` (append) or `name[key]: expression` (merge)."""

    name: str
    path: list[Getter]  # keys under `name`, evaluated in the step's scope
    append: bool
    value: Template  # bare expressions (strings) anywhere inside are evaluated
    part: str = ""  # `bind name`, as a failure names it

    def __post_init__(self) -> None:
        self.part = f"bind {self.name}"

    def apply(self, scope: Scope) -> None:
        value = self.value.render(scope)
        keys = [key(scope) for key in self.path]
        if self.append:
            value = [value]
        for key in reversed(keys):
            if key is None:
                raise EvalError(f"bind key of `{self.name}` is nil")
            value = {key if isinstance(key, str | int | float) else str(key): value}
        binds = scope.binds
        binds[self.name] = merge_bound(binds.get(self.name), value)


def merge_bound(old: Any, new: Any) -> Any:
    """runn's merge of a bound name: maps merge, lists append, anything else is replaced."""
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = merge_bound(merged[key], value) if key in merged else value
        return merged
    if isinstance(old, list) and isinstance(new, list):
        return old + new
    return new


@dataclass(slots=True)
class IncludeProgram:
    book: BookProgram
    vars: dict[str, Template] | None  # the include's templated `vars`, rendered per run
    base_vars: dict[str, Any]  # the included runbook's vars with the include's static ones
    # A custom runner's `nodes` (the step's YAML) and `params`, added to what it sees as parent
    parent_extra: dict[str, Any] | None = None


@dataclass(slots=True)
class StepProgram:
    name: str  # `runbook:step`, as reported
    index: int
    key: str | None
    if_: Getter | None = None
    loop: LoopProgram | None = None
    force: bool = False
    deferred: bool = False  # `defer: true`: runs after the other steps, last deferred first
    request: RequestProgram | None = None
    include: IncludeProgram | None = None
    dump: Getter | None = None
    dump_out: DumpOut | None = None  # `dump.out`: to a file, not to the dump sink
    binds: list[BindProgram] = field(default_factory=list)
    test: Getter | None = None
    test_source: str = ""
    test_why: Why | None = None  # the values of a false test's operands, computed only then

    async def run(self, book: BookProgram, scope: Scope, vu: VirtualUser) -> bool:
        """The step, with its `if` and `loop`; False when they say it does not run."""
        if self.if_ is not None:
            scope.before_step()
            if evaluate_part(self.if_, scope, self.name, "if") is not True:
                self.skip(scope)
                return False
        loop = self.loop
        if loop is None:
            await self.attempt(book, scope, vu)
            return True
        if loop.times(scope, self.name) <= 0:
            self.skip(scope)
            return False

        def at(number: int) -> None:
            scope.loop_index = number

        try:
            await run_loop(loop, scope, self.name, lambda: self.attempt(book, scope, vu), at)
        finally:
            scope.loop_index = None
        return True

    def skip(self, scope: Scope, outcome: str = "skipped") -> None:
        scope.record(self.index, self.key, {"outcome": outcome})

    async def attempt(self, book: BookProgram, scope: Scope, vu: VirtualUser) -> None:
        """One attempt: request (or include), dump, bind, test; an expression that fails names
        its part. The request is sent right here: a coroutine layer costs on every resume."""
        recording = scope.recording
        if recording:
            records = scope.records
            scope.current = None
            scope.previous = records[-1] if records else None
        recorded = not recording  # with nothing to record, there is nothing left to settle
        part = "request"
        try:
            sender = self.request
            if sender is not None:
                request = sender.prebuilt or sender.build(scope)
                openapi = sender.openapi
                operation = openapi.operation(request) if openapi is not None else None
                response: ResponseView | None
                if sender.use_cookie:
                    response = await sender.send_with_cookies(vu, request)
                    if openapi is not None:
                        openapi.check_response(
                            request, operation, response.status, *response.raw_parts()
                        )
                else:
                    raw = await vu.exchange(sender.runner, request, sender.stats)  # type: ignore[arg-type]
                    if raw.status in REDIRECT_STATUSES and sender.follow_redirects:
                        request, raw = await sender.follow(vu, request, raw)
                    if openapi is not None:
                        openapi.check_response(
                            request, operation, raw.status, raw.headers, raw.body
                        )
                    response = sender.view(vu, request, raw) if book.needs_view else None
                if response is not None:
                    if recording:
                        scope.record(self.index, self.key, {"res": response, "outcome": "success"})
                        recorded = True
                    if book.log_cookies and response.has_set_cookie():
                        scope.cookie_log.append(response)
            elif self.include is not None:
                recorded = await self.run_include(book, scope, vu, self.include)
            if book.secret_getters:
                learn_secrets(book.secret_getters, scope)
            # Before a step's first part has run, `current` is nil, `previous` the latest result.
            if self.dump is not None:
                part = "dump"
                value = self.dump(scope)
                if self.dump_out is not None:
                    self.dump_out.write(self.name, scope, value)
                elif book.dump_sink is not None:
                    book.dump_sink(self.name, plain(value))
                recorded = recorded or self.settle(scope)
            for bind in self.binds:
                part = bind.part
                bind.apply(scope)
            if self.binds:
                recorded = recorded or self.settle(scope)
                if book.secret_getters:
                    learn_secrets(book.secret_getters, scope)
            test = self.test
            if test is not None and not book.skip_test:
                part = "test"
                if test(scope) is not True:
                    raise TestFailed(self.test_failure(scope))
        except EvalError as exc:
            raise _failed(self.name, part, exc) from None
        if not recorded:
            self.settle(scope)

    def test_failure(self, scope: Scope) -> str:
        why = "" if self.test_why is None else self.test_why.explain(scope)
        return f"{self.name}: test failed: {self.test_source}{why}"

    def settle(self, scope: Scope) -> bool:
        scope.record(self.index, self.key, {"outcome": "success"})
        return True

    async def run_include(
        self, book: BookProgram, scope: Scope, vu: VirtualUser, include: IncludeProgram
    ) -> bool:
        variables = include.base_vars
        if include.vars is not None:
            rendered = {
                key: evaluate_part(value.render, scope, self.name, "include.vars")
                for key, value in include.vars.items()
            }
            variables = {**variables, **rendered}
            for value in credential_values(rendered):  # known only now: mask from now on
                learn_secret(value)
        child = await include.book.run(
            vu,
            variables=variables,
            parent=_parent_view(scope, book, include),
            cookie_log=scope.cookie_log,
            deferred=scope.deferred,
        )
        if scope.recording:
            scope.record(
                self.index, self.key, {**child.as_included(book.env), "outcome": "success"}
            )
        return True


Failure = IterationFailed | RequestFailed


@dataclass(slots=True)
class BookProgram:
    name: str
    path: str
    use_map: bool
    env: Mapping[str, str]
    static_vars: dict[str, Any]
    steps: list[StepProgram] = field(default_factory=list)
    if_: Getter | None = None
    loop: LoopProgram | None = None
    force: bool = False
    skip_test: bool = False
    interval: float = 0.0
    log_cookies: bool = False  # some expression reads `cookies[host][name]`
    # Set for the whole run once every runbook is compiled: step results are recorded only if
    # some expression reads them, and responses viewed only if something looks at them.
    record_results: bool = True
    needs_view: bool = True
    dump_sink: DumpSink | None = None
    needs: list[tuple[str, BookProgram]] = field(default_factory=list)
    # runn's `concurrency:` keys: passes of runbooks sharing a key never overlap (across VUs)
    concurrency: list[str] = field(default_factory=list)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)  # shared by the scenario
    step_sink: StepSink | None = None  # told every step's outcome (`--iterations`)
    secret_getters: list[Getter] = field(default_factory=list)  # `secrets:` known while running
    # Its own `if` is false at load (`if: included`, and it is not): where, and why, in words
    never_runs: tuple[str, str] | None = None
    body_steps: set[int] = field(default_factory=set)  # steps whose response bodies are read

    async def run(
        self,
        vu: VirtualUser,
        *,
        variables: dict[str, Any] | None = None,
        parent: dict[str, Any] | None = None,
        cookie_log: list[ResponseView] | None = None,
        scope: Scope | None = None,
        locked: bool = False,
        deferred: list[Deferred] | None = None,
    ) -> Scope:
        """One pass over the runbook (or, under a root `loop`, all of its passes).

        With `scope`, only one more pass over that scope: what a root loop repeats. With
        `deferred` (an included runbook), its deferred steps join the including runbook's, to
        run after that one's last step, as runn runs them.
        """
        if self.concurrency and scope is None and not locked:
            return await self.run_alone(vu, variables, parent, cookie_log, deferred)
        if scope is None:
            scope = Scope(
                vu,
                self.static_vars if variables is None else variables,
                self.use_map,
                parent,
                [] if cookie_log is None else cookie_log,
                self.record_results,
            )
            if deferred is not None:
                scope.deferred, scope.deferred_shared = deferred, True
            if self.needs:
                scope.needs = {key: (await book.run(vu)).binds for key, book in self.needs}
            if self.if_ is not None and evaluate_part(self.if_, scope, self.name, "if") is not True:
                return scope
            if self.loop is not None:
                await self.run_loop(scope, vu, self.loop)
                return scope
        failure: Failure | None = None
        queue = scope.deferred
        for step in self.steps:
            if step.deferred:
                queue.append((self, step, scope))
                step.skip(scope)  # its place in `steps`, filled when it runs
                continue
            if failure is not None and not (self.force or step.force):
                self.skipped(step, scope)
                continue
            if self.interval and step.index:
                await asyncio.sleep(self.interval)
            try:
                ran: bool | None = None
                if step.if_ is None and step.loop is None:
                    await step.attempt(self, scope, vu)  # one coroutine less on the common path
                else:
                    ran = await step.run(self, scope, vu)
            except (IterationFailed, RequestFailed) as exc:
                failure = self.failed(step, scope, exc, failure)
                continue
            if self.step_sink is not None:
                self.ran(step, scope, ran)
        if queue and not scope.deferred_shared:
            failure = await run_deferred(queue, vu, failure)
        if failure is not None:
            raise failure
        return scope

    async def run_alone(
        self,
        vu: VirtualUser,
        variables: dict[str, Any] | None,
        parent: dict[str, Any] | None,
        cookie_log: list[ResponseView] | None,
        deferred: list[Deferred] | None,
    ) -> Scope:
        """A pass holding the locks of its concurrency keys (taken in order: no deadlock)."""
        async with contextlib.AsyncExitStack() as stack:
            for key in sorted(set(self.concurrency)):
                lock = self.locks.get(key)
                if lock is None:
                    lock = self.locks[key] = asyncio.Lock()
                await stack.enter_async_context(lock)
            return await self.run(
                vu,
                variables=variables,
                parent=parent,
                cookie_log=cookie_log,
                locked=True,
                deferred=deferred,
            )

    def start(self, step: StepProgram, scope: Scope, vu: VirtualUser) -> Awaitable[bool | None]:
        """The step's coroutine: its attempt, or (with `if` or `loop`) its run (False: skipped)."""
        if step.if_ is None and step.loop is None:
            return step.attempt(self, scope, vu)
        return step.run(self, scope, vu)

    def ran(self, step: StepProgram, scope: Scope, ran: bool | None) -> None:
        assert self.step_sink is not None
        outcome = "skipped" if ran is False else "success"
        self.step_sink(StepOutcome(step.name, outcome, iteration=scope.vu.iteration))

    def skipped(self, step: StepProgram, scope: Scope) -> None:
        step.skip(scope)
        if self.step_sink is not None:
            self.step_sink(StepOutcome(step.name, "skipped", iteration=scope.vu.iteration))

    def failed(
        self, step: StepProgram, scope: Scope, error: Failure, first: Failure | None
    ) -> Failure:
        """Record the step's failure; the pass fails with its first one."""
        step.skip(scope, "failure")
        if self.step_sink is not None:
            self.step_sink(
                StepOutcome(step.name, "failure", error.reason, iteration=scope.vu.iteration)
            )
        return first or error

    async def run_loop(self, scope: Scope, vu: VirtualUser, loop: LoopProgram) -> None:
        await run_loop(
            loop,
            scope,
            self.name,
            lambda: self.run(vu, scope=scope),
            lambda _number: scope.new_pass(self.use_map),
        )


Deferred = tuple[BookProgram, StepProgram, Scope]


async def run_deferred(
    queue: list[Deferred], vu: VirtualUser, failure: Failure | None
) -> Failure | None:
    """The deferred steps of a pass, its included runbooks' too, last deferred first: each runs
    whatever happened before it. The pass fails with its first failure."""
    while queue:
        book, step, scope = queue.pop()
        try:
            ran = await book.start(step, scope, vu)
        except (IterationFailed, RequestFailed) as exc:
            failure = book.failed(step, scope, exc, failure)
            continue
        if book.step_sink is not None:
            book.ran(step, scope, ran)
    return failure


def learn_secrets(getters: list[Getter], scope: Scope) -> None:
    """Mask, in every output from now on, the values `secrets:` names that this step set."""
    for getter in getters:
        try:
            value = getter(scope)
        except Exception:  # not set (yet) in this pass: nothing to mask
            continue
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            learn_secret(value)


def _parent_view(scope: Scope, book: BookProgram, include: IncludeProgram) -> dict[str, Any]:
    view = scope.as_parent(book.env)
    return {**view, **include.parent_extra} if include.parent_extra else view
