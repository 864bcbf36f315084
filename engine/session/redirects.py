"""Following redirects, one way for URL mode and runbooks, bounded as careful clients bound it.

Every hop is a request, recorded under the step that started the chain. After `max_redirects`
redirects have been followed, one more redirect response fails the request with the error kind
`too_many_redirects` ("stopped after N redirects", N counting that response). Go's client (and
so runn) stops at the 10th redirect response: runbooks follow at most `RUNN_MAX_REDIRECTS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import httpx

from ..transport import from_httpx, to_httpx, to_response
from .failures import RequestFailed

if TYPE_CHECKING:
    from ..metrics import StepStats
    from ..transport import RawRequest, RawResponse, Runner


class VirtualUserView(Protocol):
    """What following redirects uses of a virtual user (scenario.VirtualUserView has it)."""

    async def exchange(
        self, runner: Runner, request: RawRequest, step: StepStats
    ) -> RawResponse: ...

    async def send(
        self,
        runner: Runner,
        request: RawRequest,
        step: StepStats,
        *,
        follow_redirects: bool | None = None,
        use_cookies: bool = False,
    ) -> httpx.Response: ...

    def reject(self, step: StepStats, kind: str, message: str) -> None: ...


TOO_MANY_REDIRECTS = "too_many_redirects"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RUNN_MAX_REDIRECTS = 9  # Go's client: "stopped after 10 redirects" at the 10th redirect response
DEFAULT_MAX_REDIRECTS = 10  # `--follow-redirects` without N, as oha's `--redirect`


def raw_location(raw: RawResponse) -> str | None:
    """Where a redirect response sends the client; None when it is not one."""
    if raw.status not in REDIRECT_STATUSES:
        return None
    for key, value in raw.headers:
        if key.lower() == b"location":
            return value.decode("latin-1")
    return None


def response_location(response: httpx.Response) -> str | None:
    if response.status_code not in REDIRECT_STATUSES:
        return None
    location: str | None = response.headers.get("location")
    return location


def next_hop(runner: Runner, request: RawRequest, status: int, location: str) -> RawRequest:
    """The request a redirect asks for, with httpx's rules: 303 (and 301/302 after a POST)
    become a GET without a body; `Authorization` does not go to another host; the cookie
    header is the jar's business."""
    public = to_httpx(request)
    url = public.url.join(location)
    method = request.method
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
    keep_body = status in (307, 308)
    headers = httpx.Headers(public.headers)
    for name in ("host", "cookie") + (
        () if keep_body else ("content-length", "content-type", "transfer-encoding")
    ):
        headers.pop(name, None)
    if url.host != public.url.host:
        headers.pop("authorization", None)
    return runner.build_request(
        method,
        url,
        headers=headers,
        content=request.body if keep_body else None,
        keep_body=request.keep_body,
    )


async def send_with_jar(
    vu: VirtualUserView,
    jar: httpx.Cookies | None,
    runner: Runner,
    request: RawRequest,
    step: StepStats,
) -> httpx.Response:
    """One request as an `httpx.Response`; with `jar`, its cookies go out and the answer's come
    back into it (a VU's own jar, or one of several an iteration keeps apart)."""
    public = to_httpx(request)
    if jar:
        public.headers.pop("cookie", None)
        jar.set_cookie_header(public)
        request = from_httpx(public, keep_body=request.keep_body)
    raw = await vu.exchange(runner, request, step)
    response = to_response(raw, public)
    if jar is not None:
        jar.extract_cookies(response)
    return response


def check_limit(followed: int, max_redirects: int, vu: VirtualUserView, step: StepStats) -> None:
    """Fail the chain when one more redirect would go past the limit: the redirect response
    already counted as a response now counts as a `too_many_redirects` error."""
    if followed >= max_redirects:
        message = f"stopped after {followed + 1} redirects"
        vu.reject(step, TOO_MANY_REDIRECTS, message)
        raise RequestFailed(step.name, TOO_MANY_REDIRECTS, message)


async def follow_redirects(
    vu: VirtualUserView,
    runner: Runner,
    step: StepStats,
    request: RawRequest,
    raw: RawResponse,
    max_redirects: int,
) -> tuple[RawRequest, RawResponse]:
    """The last request and response of the redirect chain that `raw` starts."""
    followed = 0
    while (location := raw_location(raw)) is not None:
        check_limit(followed, max_redirects, vu, step)
        request = next_hop(runner, request, raw.status, location)
        raw = await vu.exchange(runner, request, step)
        followed += 1
    return request, raw


async def send_following(
    vu: VirtualUserView,
    runner: Runner,
    step: StepStats,
    request: RawRequest,
    max_redirects: int | None,
) -> httpx.Response:
    """Like `follow_redirects`, through the VU's cookie jar (`vu.send`): each hop's cookies are
    kept and sent. None: the first response, redirect or not."""
    history: list[httpx.Response] = []
    while True:
        response = await vu.send(runner, request, step, follow_redirects=False, use_cookies=True)
        location = response_location(response) if max_redirects is not None else None
        if location is None:
            response.history = history
            return response
        check_limit(len(history), max_redirects or 0, vu, step)
        history.append(response)
        request = next_hop(runner, request, response.status_code, location)
