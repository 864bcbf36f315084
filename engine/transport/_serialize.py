"""Turning a `RawRequest` into bytes for HTTP/1.1 or a header list for HTTP/2.

The result is cached on the request, so a prebuilt request is serialized once for the whole
session and every later send is a dictionary lookup.
"""

from __future__ import annotations

from typing import cast

from ._wire import RawRequest

_H1 = "h1"
_H1_CLOSE = "h1-close"
_H1_PROXY = "h1-proxy"
_H1_PROXY_CLOSE = "h1-proxy-close"
_H2 = "h2"
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"host"}
)


def request_body(request: RawRequest) -> bytes:
    return request.body


def h1_bytes(request: RawRequest, close: bool = False, proxy: bytes | None = None) -> bytes:
    """`proxy`: forwarded through a proxy, in absolute form, with these extra header lines."""
    if proxy is None:
        key = _H1_CLOSE if close else _H1
    else:
        key = _H1_PROXY_CLOSE if close else _H1_PROXY
    cached = request.serialized.get(key)
    if cached is None:
        cached = request.serialized[key] = _serialize_h1(request, close, proxy)
    return cast(bytes, cached)


def _serialize_h1(request: RawRequest, close: bool, proxy: bytes | None = None) -> bytes:
    target = request.target if proxy is None else _absolute_form(request)
    parts = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    saw_connection = False
    for name, value in request.headers:
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
    parts.append(request.body)
    return b"".join(parts)


def _absolute_form(request: RawRequest) -> bytes:
    return request.origin.scheme.encode("ascii") + b"://" + request.authority + request.target


def h2_headers(request: RawRequest) -> list[tuple[bytes, bytes]]:
    cached = request.serialized.get(_H2)
    if cached is None:
        cached = request.serialized[_H2] = _serialize_h2(request)
    return cast(list[tuple[bytes, bytes]], cached)


def _serialize_h2(request: RawRequest) -> list[tuple[bytes, bytes]]:
    authority = request.header(b"host") or request.authority
    headers = [
        (b":method", request.method.encode("ascii")),
        (b":authority", authority),
        (b":scheme", request.origin.scheme.encode("ascii")),
        (b":path", request.target),
    ]
    for name, value in request.headers:
        lowered = name.lower()
        if lowered in _HOP_BY_HOP:
            continue
        if lowered == b"te" and value.lower() != b"trailers":
            continue
        headers.append((lowered, value))
    return headers
