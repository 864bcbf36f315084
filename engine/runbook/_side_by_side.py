"""runn's `--concurrent N`: the runbooks of one iteration run side by side, at most N at once,
each with its own cookie jar as each of runn's operators has. Runbooks that share a
`concurrency:` key still never overlap (their locks, taken by `BookProgram.run`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from ..session.redirects import send_with_jar
from ..session.scenario import IterationFailed, RequestFailed
from ._program import BookProgram

if TYPE_CHECKING:
    from ..metrics import StepStats
    from ..session.scenario import VirtualUserView
    from ..transport import RawRequest, RawResponse, Runner


class OwnJar:
    """The iteration's VU as one runbook sees it when runbooks run side by side: the VU's
    requests, and a cookie jar of the runbook's own."""

    def __init__(self, vu: VirtualUserView) -> None:
        self._vu = vu
        self._cookies: httpx.Cookies | None = None

    @property
    def iteration(self) -> int:
        return self._vu.iteration

    @property
    def cookies(self) -> httpx.Cookies:
        if self._cookies is None:
            self._cookies = httpx.Cookies()
        return self._cookies

    def reset_cookies(self) -> None:
        self._cookies = None

    async def exchange(self, runner: Runner, request: RawRequest, step: StepStats) -> RawResponse:
        return await self._vu.exchange(runner, request, step)

    async def send(
        self,
        runner: Runner,
        request: RawRequest,
        step: StepStats,
        *,
        follow_redirects: bool | None = None,
        use_cookies: bool = False,
    ) -> httpx.Response:
        if follow_redirects is False:  # runbooks follow redirects hop by hop, so always here
            jar = self.cookies if use_cookies else None
            return await send_with_jar(self, jar, runner, request, step)
        return await self._vu.send(
            runner, request, step, follow_redirects=follow_redirects, use_cookies=use_cookies
        )

    def reject(self, step: StepStats, kind: str, message: str) -> None:
        self._vu.reject(step, kind, message)


async def run_side_by_side(
    books: Sequence[BookProgram],
    vu: VirtualUserView,
    *,
    at_once: int,
    fail_fast: bool,
    own_jars: bool,
) -> None:
    """Every runbook's pass, up to `at_once` at a time. As in turn, a failing runbook does not
    stop the others unless `fail_fast` (then the others are cancelled); the iteration fails
    with the failure of the first runbook, in the given order, that failed."""
    gate = asyncio.Semaphore(at_once)

    async def one(book: BookProgram) -> None:
        async with gate:
            await book.run(OwnJar(vu) if own_jars else vu)

    tasks = [asyncio.create_task(one(book)) for book in books]
    try:
        await _settle(tasks, fail_fast)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _settle(tasks: list[asyncio.Task[None]], fail_fast: bool) -> None:
    pending: set[asyncio.Task[None]] = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            error = task.exception()
            if error is not None and (fail_fast or not _a_failure(error)):
                raise error
    for task in tasks:
        error = task.exception()
        if error is not None:
            raise error


def _a_failure(error: BaseException) -> bool:
    return isinstance(error, IterationFailed | RequestFailed)
