"""What an iteration runs: compiled runbooks and steps, with runn's step semantics.

Within a step the order is request → dump → bind → test. A failed step fails the iteration and
skips the steps after it, unless the runbook or a later step says `force`. A step with a `loop`
runs up to `count` attempts, until `until` holds; `steps[i]` then holds its last attempt.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loadscope.engine.session.scenario import IterationFailed, RequestFailed

from ._errors import EvalError, one_line
from ._eval import Getter, plain
from ._request import REDIRECTS, RequestProgram
from ._scope import Scope
from ._template import Template

if TYPE_CHECKING:
    from loadscope.engine.session.scenario import VirtualUserView as VirtualUser

    from ._response import ResponseView

DumpSink = Callable[[str, Any], None]


class ExpressionFailed(IterationFailed):
    """An expression failed while running: this fails the step at once, even inside a loop."""


def _failed(step: str, part: str, error: EvalError) -> ExpressionFailed:
    return ExpressionFailed(f"{step}: {part} failed: {one_line(str(error), 200)}")


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
        try:
            count = self.count(scope)
        except EvalError as exc:
            raise _failed(step, "loop.count", exc) from None
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


@dataclass(slots=True)
class StepProgram:
    name: str  # `runbook:step`, as reported
    index: int
    key: str | None
    if_: Getter | None = None
    loop: LoopProgram | None = None
    force: bool = False
    request: RequestProgram | None = None
    include: IncludeProgram | None = None
    dump: Getter | None = None
    binds: list[BindProgram] = field(default_factory=list)
    test: Getter | None = None
    test_source: str = ""

    async def run(self, book: BookProgram, scope: Scope, vu: VirtualUser) -> None:
        if self.if_ is not None:
            scope.before_step()
            try:
                go = self.if_(scope)
            except EvalError as exc:
                raise _failed(self.name, "if", exc) from None
            if go is not True:
                self.skip(scope)
                return
        if self.loop is None:
            await self.attempt(book, scope, vu)
        else:
            await self.run_loop(book, scope, vu, self.loop)

    def skip(self, scope: Scope, outcome: str = "skipped") -> None:
        scope.record(self.index, self.key, {"outcome": outcome})

    async def attempt(self, book: BookProgram, scope: Scope, vu: VirtualUser) -> None:
        recording = scope.recording
        if recording:
            records = scope.records
            scope.current = None
            scope.previous = records[-1] if records else None
        recorded = not recording  # with nothing to record, there is nothing left to settle
        sender = self.request
        if sender is not None:
            request = sender.prebuilt
            if request is None:
                try:
                    request = sender.build(scope)
                except EvalError as exc:
                    raise _failed(self.name, "request", exc) from None
            if sender.use_cookie:
                response = await sender.send_with_cookies(vu, request)
            else:
                raw = await vu.exchange(sender.runner, request, sender.stats)  # type: ignore[arg-type]
                if raw.status in REDIRECTS and sender.follow_redirects:
                    request, raw = await sender.follow(vu, request, raw)
                response = sender.view(vu, request, raw) if book.needs_view else None
            if response is not None:
                if recording:
                    scope.record(self.index, self.key, {"res": response, "outcome": "success"})
                    recorded = True
                if book.log_cookies and response.has_set_cookie():
                    scope.cookie_log.append(response)
        elif self.include is not None:
            await self.run_include(book, scope, vu, self.include)
            recorded = True
        # Before a step's first part has run, `current` is nil and `previous` the latest result.
        if self.dump is not None:
            try:
                value = self.dump(scope)
            except EvalError as exc:
                raise _failed(self.name, "dump", exc) from None
            if book.dump_sink is not None:
                book.dump_sink(self.name, plain(value))
            recorded = recorded or self.settle(scope)
        for bind in self.binds:
            try:
                bind.apply(scope)
            except EvalError as exc:
                raise _failed(self.name, f"bind {bind.name}", exc) from None
        if self.binds:
            recorded = recorded or self.settle(scope)
        if self.test is not None and not book.skip_test:
            try:
                passed = self.test(scope)
            except EvalError as exc:
                raise _failed(self.name, "test", exc) from None
            if passed is not True:
                raise IterationFailed(f"{self.name}: test failed: {self.test_source}")
        if not recorded:
            self.settle(scope)

    def settle(self, scope: Scope) -> bool:
        scope.record(self.index, self.key, {"outcome": "success"})
        return True

    async def run_include(
        self, book: BookProgram, scope: Scope, vu: VirtualUser, include: IncludeProgram
    ) -> None:
        variables = include.base_vars
        if include.vars is not None:
            try:
                variables = {
                    **variables,
                    **{key: value.render(scope) for key, value in include.vars.items()},
                }
            except EvalError as exc:
                raise _failed(self.name, "include.vars", exc) from None
        child = await include.book.run(
            vu, variables=variables, parent=scope.as_parent(book.env), cookie_log=scope.cookie_log
        )
        if scope.recording:
            scope.record(
                self.index, self.key, {**child.as_included(book.env), "outcome": "success"}
            )

    async def run_loop(
        self, book: BookProgram, scope: Scope, vu: VirtualUser, loop: LoopProgram
    ) -> None:
        count = loop.times(scope, self.name)
        if count <= 0:
            self.skip(scope)
            return
        first_error: IterationFailed | RequestFailed | None = None
        try:
            for attempt in range(count):
                wait = loop.pause(attempt)
                if wait:
                    await asyncio.sleep(wait)
                scope.loop_index = attempt
                error: IterationFailed | RequestFailed | None = None
                try:
                    await self.attempt(book, scope, vu)
                except ExpressionFailed:
                    raise
                except (IterationFailed, RequestFailed) as exc:
                    error = exc
                    first_error = first_error or exc
                if loop.until is None:
                    continue
                try:
                    done = loop.until(scope)
                except EvalError as exc:
                    raise _failed(self.name, "loop.until", exc) from None
                if done is True:
                    if error is not None:
                        raise error
                    return
        finally:
            scope.loop_index = None
        if loop.until is not None:
            raise IterationFailed(f"{self.name}: loop failed: ({loop.until_source}) is not true")
        if first_error is not None:
            raise first_error


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

    async def run(
        self,
        vu: VirtualUser,
        *,
        variables: dict[str, Any] | None = None,
        parent: dict[str, Any] | None = None,
        cookie_log: list[ResponseView] | None = None,
        scope: Scope | None = None,
    ) -> Scope:
        """One pass over the runbook (or, under a root `loop`, all of its passes).

        With `scope`, only one more pass over that scope: what a root loop repeats.
        """
        if scope is None:
            scope = Scope(
                vu,
                self.static_vars if variables is None else variables,
                self.use_map,
                parent,
                [] if cookie_log is None else cookie_log,
                self.record_results,
            )
            if self.if_ is not None:
                try:
                    go = self.if_(scope)
                except EvalError as exc:
                    raise _failed(self.name, "if", exc) from None
                if go is not True:
                    return scope
            if self.loop is not None:
                await self.run_loop(scope, vu, self.loop)
                return scope
        failure: IterationFailed | RequestFailed | None = None
        for step in self.steps:
            if failure is not None and not (self.force or step.force):
                step.skip(scope)
                continue
            if self.interval and step.index:
                await asyncio.sleep(self.interval)
            try:
                if step.if_ is None and step.loop is None:
                    await step.attempt(self, scope, vu)  # one coroutine less on the common path
                else:
                    await step.run(self, scope, vu)
            except (IterationFailed, RequestFailed) as exc:
                if not self.may_continue:
                    raise
                failure = failure or exc
                step.skip(scope, "failure")
        if failure is not None:
            raise failure
        return scope

    @property
    def may_continue(self) -> bool:
        return self.force or any(step.force for step in self.steps)

    async def run_loop(self, scope: Scope, vu: VirtualUser, loop: LoopProgram) -> None:
        count = loop.times(scope, self.name)
        first_error: IterationFailed | RequestFailed | None = None
        for attempt in range(count):
            wait = loop.pause(attempt)
            if wait:
                await asyncio.sleep(wait)
            scope.new_pass(self.use_map)
            try:
                await self.run(vu, scope=scope)
                scope.outcome = "success"
            except ExpressionFailed:
                raise
            except (IterationFailed, RequestFailed) as exc:
                scope.outcome = "failure"
                first_error = first_error or exc
            if loop.until is None:
                continue
            try:
                done = loop.until(scope)
            except EvalError as exc:
                raise _failed(self.name, "loop.until", exc) from None
            if done is True:
                return
        if loop.until is not None:
            raise IterationFailed(f"{self.name}: loop failed: ({loop.until_source}) is not true")
        if first_error is not None:
            raise first_error
