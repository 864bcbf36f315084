"""The engine's own request and response: what a connection sends and what it hands back.

They are plain, small and httpx-free. `httpx.Request` and `httpx.Response` are made from them
(through httpx's public constructors, in `_httpx_bridge.py`) only where someone reads one.
"""

from __future__ import annotations

from typing import NamedTuple


class Origin(NamedTuple):
    """Where a request goes (a tuple, so it hashes in C on the hot path)."""

    scheme: str
    host: str
    port: int

    @property
    def is_tls(self) -> bool:
        return self.scheme == "https"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


class RawRequest:
    """One request, already normalized: method, origin, the request target (path and query, as
    sent), the header fields in order (`Host` included) and the body.

    `keep_body` False: the response body is counted, not kept. Treat a request as immutable once
    built: it may be sent many times, and what a connection makes of it (HTTP/1.1 bytes, the
    HTTP/2 header list) is cached in `serialized`, keyed by the serializer."""

    __slots__ = (
        "authority",
        "body",
        "headers",
        "keep_body",
        "method",
        "origin",
        "serialized",
        "target",
    )

    def __init__(
        self,
        method: str,
        origin: Origin,
        authority: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
        *,
        keep_body: bool = True,
    ) -> None:
        self.method = method
        self.origin = origin
        self.authority = authority  # the URL's netloc: host, and port when the URL names one
        self.target = target
        self.headers = headers
        self.body = body
        self.keep_body = keep_body
        self.serialized: dict[str, object] = {}

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (lower-case), or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def __repr__(self) -> str:
        return f"<RawRequest {self.method} {self.origin}{self.target.decode('ascii', 'replace')}>"


class RawResponse:
    """What a connection hands back: status, raw headers, the body and timings (µs).

    `body` is empty when the request did not keep it; `body_size` always counts its bytes."""

    __slots__ = (
        "body",
        "body_size",
        "connect_us",
        "connection_id",
        "first_byte",
        "headers",
        "http_version",
        "new_connection",
        "status",
        "tls_us",
        "ttfb_us",
        "wait_us",
    )

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, http_version: bytes
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.body_size = len(body)
        self.http_version = http_version
        self.first_byte = 0.0  # perf_counter() when the first byte of this response arrived
        self.ttfb_us = 0
        self.wait_us = 0
        self.connect_us = 0
        self.connection_id = 0  # the ledger id of the connection it came on
        self.tls_us = 0
        self.new_connection = False


def parse_keepalive_timeout(value: bytes) -> float | None:
    """`timeout=5, max=100` -> 5.0; None when absent or malformed."""
    for part in value.split(b","):
        name, _, number = part.strip().partition(b"=")
        if name.strip().lower() == b"timeout":
            try:
                return float(number.strip())
            except ValueError:
                return None
    return None
