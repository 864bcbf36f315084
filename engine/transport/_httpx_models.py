"""Between the engine's own request and response and httpx's, through httpx's public API only.

The engine sends `RawRequest`s and gets `RawResponse`s back; these are made where a runbook, a
dump or a user reads an `httpx.Request` or `httpx.Response` (cookies, redirects, the httpx client).
"""

from __future__ import annotations

import httpx

from ._wire import Origin, RawRequest, RawResponse
from .interfaces import KEEP_BODY

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL) -> Origin:
    scheme = url.scheme
    return Origin(scheme, url.host, url.port or _DEFAULT_PORTS.get(scheme, 80))


def from_httpx(request: httpx.Request, *, keep_body: bool | None = None) -> RawRequest:
    """The engine's request for a read `httpx.Request` (`keep_body` None: the KEEP_BODY
    extension decides, default True)."""
    if keep_body is None:
        keep_body = request.extensions.get(KEEP_BODY) is not False
    url = request.url
    return RawRequest(
        request.method,
        origin_of(url),
        url.netloc,
        url.raw_path,
        list(request.headers.raw),
        request.content,
        keep_body=keep_body,
    )


def url_of(request: RawRequest) -> httpx.URL:
    authority = request.authority.decode("ascii")
    return httpx.URL(f"{request.origin.scheme}://{authority}{request.target.decode('ascii')}")


def to_httpx(request: RawRequest) -> httpx.Request:
    """An `httpx.Request` with the same method, URL, header fields and body."""
    built = httpx.Request(
        request.method, url_of(request), headers=request.headers, content=request.body
    )
    if not request.keep_body:
        built.extensions[KEEP_BODY] = False
    return built


def to_response(raw: RawResponse, request: httpx.Request) -> httpx.Response:
    """An `httpx.Response` of `raw`, its body decoded (gzip, deflate, br) as httpx decodes."""
    response = httpx.Response(
        raw.status,
        headers=raw.headers,
        stream=httpx.ByteStream(raw.body),
        request=request,
        extensions={"http_version": raw.http_version, "loadscope.timing": raw},
    )
    response.read()
    return response
