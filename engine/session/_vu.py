"""Virtual users: asyncio tasks that run a scenario's iterations one after another."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import httpx

from .._config import CloseReason, RetireAt, ReuseMode, SessionConfig
from ..diagnostics import RequestRows
from ..metrics import Metrics, StepStats
from ..transport import (
    PoolScope,
    RawRequest,
    RawResponse,
    Runner,
    classify_os_error,
    url_of,
    without_frames,
)
from ._pacing import AsyncPacer
from .redirects import send_with_jar
from .scenario import IterationFailed, RequestFailed, Scenario

MAX_REDIRECTS = 10
INTERRUPTED = "interrupted"  # the error kind of requests cut at the end of the grace period
INTERRUPTED_MESSAGE = "cut at the end of the grace period"


class Retired(Exception):
    """Raised inside an iteration when its VU was removed with `RetireAt.REQUEST`."""


class VuSession(Protocol):
    """What a virtual user needs from the session that runs it (`Session` is one)."""

    busy: int  # iterations running now
    request_log: RequestRows | None  # --log-requests: a row per request

    @property
    def config(self) -> SessionConfig: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def scenario(self) -> Scenario: ...

    @property
    def reuse_mode(self) -> ReuseMode: ...

    @property
    def accepting(self) -> bool:
        """False once no new iteration may start."""
        ...

    @property
    def aborting(self) -> bool:
        """True while running iterations are cut at the end of the grace period."""
        ...

    @property
    def paused(self) -> bool: ...

    @property
    def pacer(self) -> AsyncPacer | None: ...

    async def wait_resumed(self) -> None: ...

    async def pace(self) -> bool: ...

    def claim_iteration(self) -> int | None:
        """The run-wide index of a new iteration; None when `max_iterations` are all started."""
        ...

    def iteration_ended(self) -> None: ...

    def vu_idle(self, vu: VirtualUser) -> None: ...

    def no_reuse_scope(self, runner: Runner) -> PoolScope: ...

    def log_once(self, key: str, message: str) -> None: ...


class VirtualUser:
    def __init__(self, session: VuSession, vu_id: int) -> None:
        self.session = session
        self.id = vu_id
        self.iteration = 0  # the run-wide iteration index of the current iteration (runn.i)
        self.local_iteration = 0
        self.exchanges = 0  # requests sent by this VU
        self.retiring = False
        self._cookies: httpx.Cookies | None = None
        self.task: asyncio.Task[None] | None = None
        self._scopes: dict[str, PoolScope] = {}
        self._intended_start = 0.0
        self._assignment: asyncio.Future[float] | None = None

    @property
    def cookies(self) -> httpx.Cookies:
        """This iteration's cookie jar (built on first use: most iterations never need one)."""
        if self._cookies is None:
            self._cookies = httpx.Cookies()
        return self._cookies

    @cookies.setter
    def cookies(self, jar: httpx.Cookies) -> None:
        self._cookies = jar

    def reset_cookies(self) -> None:
        self._cookies = None

    # -- requests -------------------------------------------------------------------------------
    def reject(self, step: StepStats, kind: str, message: str) -> None:
        self.session.metrics.record_rejected(step, kind, message)

    async def exchange(self, runner: Runner, request: RawRequest, step: StepStats) -> RawResponse:
        """Send `request` on this VU's connection scope and record it under `step`."""
        session = self.session
        if session.paused:
            await session.wait_resumed()
        if self.retiring and session.config.retire_at is RetireAt.REQUEST:
            raise Retired
        started = self._intended_start or time.perf_counter()
        self._intended_start = 0.0
        self.exchanges += 1
        scope = self._scope(runner)
        try:
            raw = await scope.exchange(request, runner.timeout)
        except asyncio.CancelledError:
            if session.aborting:  # cut at the end of the grace period: sent, never answered
                total = int((time.perf_counter() - started) * 1e6)
                session.metrics.record_error(step, INTERRUPTED, INTERRUPTED_MESSAGE, total)
            raise
        except Exception as exc:
            kind, message = classify_os_error(exc)
            total = int((time.perf_counter() - started) * 1e6)
            session.metrics.record_error(step, kind, message, total)
            log = session.request_log
            if log is not None:
                log.failure(started, self, step.name, request, kind, total)
            # the transport's exception holds, by its frames, the future that held it
            raise RequestFailed(step.name, kind, message) from without_frames(exc)
        total = int((time.perf_counter() - started) * 1e6)
        session.metrics.record_response(step, raw, total)
        log = session.request_log
        if log is not None:
            log.response(started, self, step.name, request, raw, total)
        return raw

    async def send(
        self,
        runner: Runner,
        request: RawRequest,
        step: StepStats,
        *,
        follow_redirects: bool | None = None,
        use_cookies: bool = False,
    ) -> httpx.Response:
        """Like `exchange`, as an `httpx.Response`, following redirects and keeping cookies."""
        follow = runner.config.follow_redirects if follow_redirects is None else follow_redirects
        history: list[httpx.Response] = []
        while True:
            jar = self.cookies if use_cookies else None
            response = await send_with_jar(self, jar, runner, request, step)
            if not (follow and response.has_redirect_location) or len(history) >= MAX_REDIRECTS:
                response.history = history
                return response
            history.append(response)
            request = _redirect_request(runner, request, response)

    def _scope(self, runner: Runner) -> PoolScope:
        mode = self.session.reuse_mode
        if mode is ReuseMode.SHARED:
            return runner.shared
        if mode is ReuseMode.NONE:
            return self.session.no_reuse_scope(runner)
        scope = self._scopes.get(runner.name)
        if scope is None:
            keep = self.session.config.requests_per_vu
            scope = self._scopes[runner.name] = runner.new_scope(keep=keep)
        return scope

    def drop_scopes(self, reason: CloseReason) -> None:
        scopes, self._scopes = self._scopes, {}
        for scope in scopes.values():
            scope.retire(reason)

    # -- iterations -------------------------------------------------------------------------------
    async def run_closed(self) -> None:
        """Closed model: iterate back to back until retired or the session stops."""
        session = self.session
        try:
            while not self.retiring and session.accepting:
                if session.paused:
                    await session.wait_resumed()
                    continue
                if session.pacer is not None and (not await session.pace() or self.retiring):
                    break
                sent = self.exchanges
                if not await self.iterate(0.0):
                    break
                if self.exchanges == sent:
                    # It sent nothing (a skipped `if`, a test failing first), so it may never
                    # have awaited: let the clock, the deadline and signals run.
                    await asyncio.sleep(0)
        finally:
            self.drop_scopes(self._exit_reason())

    async def run_open(self, first_start: float) -> None:
        """Open model: run the arrival it was started for, then wait to be handed the next."""
        session = self.session
        loop = asyncio.get_running_loop()
        intended = first_start
        try:
            while True:
                if not await self.iterate(intended):
                    break
                if self.retiring or not session.accepting:
                    break
                self._assignment = loop.create_future()
                session.vu_idle(self)
                intended = await self._assignment
                self._assignment = None
                if intended <= 0:
                    break
        finally:
            self.drop_scopes(self._exit_reason())

    def _exit_reason(self) -> CloseReason:
        return CloseReason.POOL_SHRINK if self.session.accepting else CloseReason.SESSION_END

    def assign(self, intended_start: float) -> bool:
        if self._assignment is None or self._assignment.done():
            return False
        self._assignment.set_result(intended_start)
        return True

    async def iterate(self, intended_start: float) -> bool:
        """Run one iteration; False, running none, once the session's `max_iterations` are all
        started."""
        session = self.session
        index = session.claim_iteration()
        if index is None:
            return False
        self.iteration = index
        self.local_iteration += 1
        self.reset_cookies()  # a fresh jar per iteration, made only if something uses it
        self._intended_start = intended_start
        started = intended_start or time.perf_counter()
        failure: str | None = None
        session.busy += 1
        try:
            await session.scenario.run_iteration(self)
        except Retired:
            return True
        except (IterationFailed, RequestFailed) as exc:
            failure = _reason_of(exc)
        except asyncio.CancelledError:
            if not session.aborting:
                raise
            # Cut at the end of the grace period: a failed iteration with no latency sample.
            session.metrics.record_iteration(None, f"{INTERRUPTED}: {INTERRUPTED_MESSAGE}")
            return True
        except Exception as exc:  # a scenario bug must not kill the VU or the session
            failure = f"internal error: {type(exc).__name__}: {exc}"
            session.log_once("internal", failure)
        finally:
            session.busy -= 1
            self._intended_start = 0.0
            if session.reuse_mode is ReuseMode.PER_ITERATION:
                for scope in self._scopes.values():
                    scope.close_idle(CloseReason.ITERATION_END)
            session.iteration_ended()
        session.metrics.record_iteration(int((time.perf_counter() - started) * 1e6), failure)
        return True


def _reason_of(failed: IterationFailed | RequestFailed) -> str:
    """The failure's reason, with its traceback and causes let go: a scenario that kept a frame
    holding the exception made a reference cycle, and thousands of failing iterations a second
    left the collector a heap of them to walk (a 0.4 s pause of the loop, seen as latency)."""
    failed.__traceback__ = failed.__context__ = failed.__cause__ = None
    return failed.reason


def _redirect_request(runner: Runner, request: RawRequest, response: httpx.Response) -> RawRequest:
    location = response.headers["location"]
    current = url_of(request)
    url = current.join(location)
    method = request.method
    if (response.status_code == 303 and method != "HEAD") or (
        response.status_code in (301, 302) and method == "POST"
    ):
        method = "GET"
    keep_body = response.status_code in (307, 308)
    headers = httpx.Headers(request.headers)
    headers.pop("host", None)
    if not keep_body:
        for name in ("content-length", "content-type", "transfer-encoding"):
            headers.pop(name, None)
    if url.host != current.host:
        headers.pop("authorization", None)
    headers.pop("cookie", None)
    content = request.body if keep_body else None
    return runner.build_request(
        method, url, headers=headers, content=content, keep_body=request.keep_body
    )
