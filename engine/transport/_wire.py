"""The result of one exchange on the wire, before it becomes an `httpx.Response`."""

from __future__ import annotations


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
