"""What virtual users run: a scenario is compiled once and then only evaluated per iteration."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx

from .._config import DEFAULT_MAX_HEADER_SIZE, RunnerConfig
from ..hosts import url_problem
from .failures import IterationFailed as IterationFailed  # re-exported: scenarios raise it
from .failures import RequestFailed as RequestFailed  # re-exported too
from .redirects import REDIRECT_STATUSES, follow_redirects

if TYPE_CHECKING:
    from ..metrics import StepStats
    from ..transport import RawRequest, RawResponse, Runner


class VirtualUserView(Protocol):
    """What an iteration uses of the virtual user running it (`VirtualUser` is one)."""

    @property
    def iteration(self) -> int:
        """The run-wide index of the current iteration (runn's `runn.i`)."""
        ...

    @property
    def cookies(self) -> httpx.Cookies:
        """This iteration's cookie jar."""
        ...

    def reset_cookies(self) -> None: ...

    async def exchange(self, runner: Runner, request: RawRequest, step: StepStats) -> RawResponse:
        """Send `request` and record it under `step`; raises `RequestFailed` without a response."""
        ...

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
        ...

    def reject(self, step: StepStats, kind: str, message: str) -> None:
        """Count a response already recorded under `step` as an error of `kind`."""
        ...


class Scenario(Protocol):
    name: str

    def runner_configs(self) -> Sequence[RunnerConfig]: ...

    def step_names(self) -> Sequence[str]: ...

    def targets(self) -> Sequence[str]: ...

    def prepare(self, runners: Mapping[str, Runner], steps: Mapping[str, StepStats]) -> None:
        """Bind to the session's runners and step counters; prebuild what does not vary."""

    async def run_iteration(self, vu: VirtualUserView) -> None: ...


@runtime_checkable
class DumpingScenario(Protocol):
    """A scenario whose runbook `dump`s values: the session logs them."""

    dump_sink: Callable[[str, Any], None] | None


@runtime_checkable
class GrowingScenario(Protocol):
    """A scenario whose steps arrive while it runs (a target list streamed from stdin): the
    session hands it a way to add a step's row, and to stop on a bad line."""

    def attach_session(
        self, add_step: Callable[[str], StepStats], stop: Callable[[], None]
    ) -> None: ...


@runtime_checkable
class WarningScenario(Protocol):
    """A scenario with warnings for the event log from the start (a runbook that sends no load)."""

    event_warnings: Sequence[str]


TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110: methods and header names


def check_header(name: str, value: str) -> None:
    if not TOKEN.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"header {name}: a value cannot contain CR, LF or NUL")


DEFAULT_EXPECTED_STATUS = "200-399"
HTTP_STATUS = "http_status"  # the error kind of a response outside the expected statuses


def parse_status_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """`200-399`, `200,201,404` or `200-299,404` as inclusive ranges; ValueError if not."""
    ranges = []
    for part in (p.strip() for p in text.split(",")):
        low, sep, high = part.partition("-")
        if not (low.strip().isdigit() and (not sep or high.strip().isdigit())):
            raise ValueError(f"{part!r} is not a status code or a range like 200-299")
        first, last = int(low), int(high) if sep else int(low)
        if not 100 <= first <= last <= 599:
            raise ValueError(f"{part!r} is not within 100-599, low to high")
        ranges.append((first, last))
    return tuple(ranges)


class UrlScenario:
    """One request per iteration to one URL: `loadscope run URL`. A response whose status is
    not expected (default 200-399) fails its iteration with the error kind `http_status`."""

    def __init__(
        self,
        url: str,
        method: str = "GET",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        name: str | None = None,
        expect_status: str = DEFAULT_EXPECTED_STATUS,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_redirects: int | None = None,
    ) -> None:
        """`max_redirects`: follow up to that many redirects (each hop is a request; one more
        fails with `too_many_redirects`); None: do not follow, a redirect is the answer."""
        problem = url_problem(url)
        if problem:
            raise ValueError(f"invalid URL {url!r}: {problem}")
        parsed = httpx.URL(url)
        if not TOKEN.fullmatch(method):
            raise ValueError(f"not an HTTP method: {method!r}")
        for header, value in headers:
            check_header(header, value)
        self.url = parsed
        self.method = method.upper()
        self.headers = tuple(headers)
        self.body = body
        self.name = name or str(parsed)
        self.expect_status = expect_status
        self.max_header_size = max_header_size
        if max_redirects is not None and max_redirects < 0:
            raise ValueError(f"max_redirects is 0 or more, not {max_redirects}")
        self.max_redirects = max_redirects
        self._expected = frozenset(
            code
            for low, high in parse_status_ranges(expect_status)
            for code in range(low, high + 1)
        )
        self._step_name = f"{self.method} {parsed.raw_path.decode('ascii', 'replace')}"
        self._request: RawRequest | None = None
        self._runner: Runner | None = None
        self._step: StepStats | None = None

    def runner_configs(self) -> Sequence[RunnerConfig]:
        origin = self.url.copy_with(path="/", query=None, fragment=None)
        return [
            RunnerConfig(name="url", base_url=str(origin), max_header_size=self.max_header_size)
        ]

    def step_names(self) -> Sequence[str]:
        return [self._step_name]

    def targets(self) -> Sequence[str]:
        return [str(self.url)]

    def prepare(self, runners: Mapping[str, Runner], steps: Mapping[str, StepStats]) -> None:
        self._runner = runners["url"]
        self._step = steps[self._step_name]
        # Nothing reads the body: count it, don't keep it.
        self._request = self._runner.build_request(
            self.method, self.url, headers=list(self.headers), content=self.body, keep_body=False
        )

    async def run_iteration(self, vu: VirtualUserView) -> None:
        assert self._runner is not None and self._request is not None and self._step is not None
        raw = await vu.exchange(self._runner, self._request, self._step)
        if self.max_redirects is not None and raw.status in REDIRECT_STATUSES:
            _, raw = await follow_redirects(
                vu, self._runner, self._step, self._request, raw, self.max_redirects
            )
        if raw.status not in self._expected:
            message = f"status {raw.status}, expected {self.expect_status}"
            vu.reject(self._step, HTTP_STATUS, message)
            raise RequestFailed(self._step.name, HTTP_STATUS, message)
