"""What HTTP/2 and HTTP/3 connections keep per stream while its response arrives."""

from __future__ import annotations

import asyncio
import time

from ._errors import ProtocolError
from ._wire import RawResponse


def parse_status(value: bytes) -> int | None:
    """A `:status` of exactly three ASCII digits, 100 to 999; None for anything else (h2 and
    aioquic pass it on unchecked, and httptools refuses the same on HTTP/1.1)."""
    if len(value) == 3 and value.isdigit() and value[:1] != b"0":  # bytes.isdigit: ASCII only
        return int(value)
    return None


class ResponseStream:
    """One request's response as it arrives on a multiplexed connection (HTTP/2, HTTP/3)."""

    __slots__ = (
        "body",
        "body_size",
        "first_byte",
        "header_bytes",
        "headers",
        "keep_body",
        "status",
        "version",
        "waiter",
    )

    def __init__(
        self, waiter: asyncio.Future[RawResponse], keep_body: bool, version: bytes
    ) -> None:
        self.waiter = waiter
        self.version = version
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.header_bytes = 0  # decoded so far, for max_header_size (HTTP/3 counts it here)
        self.body: list[bytes] = []
        self.body_size = 0
        self.keep_body = keep_body
        self.first_byte = 0.0

    def on_headers(self, headers: list[tuple[bytes, bytes]] | None) -> ProtocolError | None:
        """Takes a header block; a malformed `:status` is returned as the stream's error."""
        if not self.first_byte:
            self.first_byte = time.perf_counter()
        for name, value in headers or ():
            if name != b":status":
                self.headers.append((name, value))
                continue
            status = parse_status(value)
            if status is None:
                return ProtocolError(f"malformed response: :status {value[:20]!r}")
            self.status = status
        return None

    def finish(self) -> None:
        if self.waiter.done():
            return
        response = RawResponse(self.status, self.headers, b"".join(self.body), self.version)
        response.body_size = self.body_size
        self.waiter.set_result(response)

    def fail(self, error: Exception) -> None:
        if not self.waiter.done():
            self.waiter.set_exception(error)
