"""Turning an `httpx.Request` into bytes for HTTP/1.1 or a header list for HTTP/2.

The result is cached in the request's extensions, so a prebuilt request is serialized once for the
whole session and every later send is a dictionary lookup.
"""

from __future__ import annotations

import httpx

_H1 = "loadscope.h1"
_H1_CLOSE = "loadscope.h1-close"
_H1_PROXY = "loadscope.h1-proxy"
_H1_PROXY_CLOSE = "loadscope.h1-proxy-close"
_H2 = "loadscope.h2"
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"host"}
)


def request_body(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:
        return request.read()


def h1_bytes(request: httpx.Request, close: bool = False, proxy: bytes | None = None) -> bytes:
    """`proxy`: forwarded through a proxy, in absolute form, with these extra header lines."""
    if proxy is None:
        key = _H1_CLOSE if close else _H1
    else:
        key = _H1_PROXY_CLOSE if close else _H1_PROXY
    cached = request.extensions.get(key)
    if cached is None:
        cached = request.extensions[key] = _serialize_h1(request, close, proxy)
    return cached


def _serialize_h1(request: httpx.Request, close: bool, proxy: bytes | None = None) -> bytes:
    target = request.url.raw_path if proxy is None else _absolute_form(request.url)
    parts = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    saw_connection = False
    for name, value in request.headers.raw:
        if name.lower() == b"connection":
            saw_connection = True
            if close:
                value = b"close"
        parts += [name, b": ", value, b"\r\n"]
    if close and not saw_connection:
        parts.append(b"Connection: close\r\n")
    if proxy:
        parts.append(proxy)
    parts.append(b"\r\n")
    parts.append(request_body(request))
    return b"".join(parts)


def _absolute_form(url: httpx.URL) -> bytes:
    return url.scheme.encode("ascii") + b"://" + url.netloc + url.raw_path


def h2_headers(request: httpx.Request) -> list[tuple[bytes, bytes]]:
    cached = request.extensions.get(_H2)
    if cached is None:
        cached = request.extensions[_H2] = _serialize_h2(request)
    return cached


def _serialize_h2(request: httpx.Request) -> list[tuple[bytes, bytes]]:
    url = request.url
    authority = request.headers.get("host") or url.netloc.decode("ascii")
    headers = [
        (b":method", request.method.encode("ascii")),
        (b":authority", authority.encode("ascii")),
        (b":scheme", url.scheme.encode("ascii")),
        (b":path", url.raw_path),
    ]
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered in _HOP_BY_HOP:
            continue
        if lowered == b"te" and value.lower() != b"trailers":
            continue
        headers.append((lowered, value))
    return headers
