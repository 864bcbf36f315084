"""HTTP/1.1 on one connection: llhttp (httptools) parses, responses go out in request order.

Requests that arrive pipelined wait in a queue while a deferred (`/delay`) answer is pending, so
answers never overtake each other.
"""

from __future__ import annotations

import asyncio
from collections import deque
from http import HTTPStatus

import httptools

from ._app import Deferred, Request, Response
from ._site import CodecHost

SERVER = b"server: loadscope-target\r\n"
_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\n" + SERVER + b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 12\r\nconnection: close\r\n\r\nbad request\n"
)


def serialize(
    response: Response, *, head_only: bool, close: bool, keep_alive_value: bytes | None
) -> bytes:
    """The whole response. `keep_alive_value`: the `Keep-Alive` header when the connection stays."""
    status = response.status
    body = response.body
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown")), SERVER]
    if status != 204 and status != 304:
        parts.append(b"content-type: %s\r\n" % response.content_type)
        parts.append(b"content-length: %d\r\n" % len(body))
    else:
        body = b""
    for name, value in response.headers:
        parts.append(b"%s: %s\r\n" % (name, value))
    if close:
        parts.append(b"connection: close\r\n")
    elif keep_alive_value is not None:
        parts.append(b"keep-alive: %s\r\n" % keep_alive_value)
    parts.append(b"\r\n")
    if body and not head_only:
        parts.append(body)
    return b"".join(parts)


class _Pending:
    __slots__ = ("keep_alive", "request")

    def __init__(self, request: Request, keep_alive: bool) -> None:
        self.request = request
        self.keep_alive = keep_alive


class Http1Codec:
    __slots__ = (
        "_body",
        "_close_after",
        "_closing",
        "_conn",
        "_headers",
        "_parser",
        "_queue",
        "_timer",
        "_url",
    )

    def __init__(self, conn: CodecHost) -> None:
        self._conn = conn
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._queue: deque[_Pending] = deque()
        self._timer: asyncio.TimerHandle | None = None  # a deferred answer is pending
        self._closing = False
        self._close_after = False  # an Upgrade request: answer it as HTTP/1.1, then close

    def start(self) -> None:
        pass

    def feed(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # We never switch protocols (h2c comes with prior knowledge, not by Upgrade).
            self._close_after = True
            self._drain()
        except httptools.HttpParserError:
            self._closing = True
            self._conn.transport.write(_BAD_REQUEST)
            self._conn.close()

    def lost(self) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()

    def shutdown(self) -> None:
        self._closing = True
        self._conn.close()

    # -- httptools callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []
        self._conn.mark_busy()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        for name, value in self._headers:
            if name == b"expect" and value.lower() == b"100-continue":
                self._conn.transport.write(_CONTINUE)  # curl waits a second for this otherwise

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._closing:
            return
        parser = self._parser
        version = parser.get_http_version()
        request = Request(
            parser.get_method().decode("latin-1"),
            self._url,
            self._headers,
            b"".join(self._body),
            "HTTP/" + version,
        )
        self._conn.count_request()
        self._queue.append(_Pending(request, parser.should_keep_alive() and version == "1.1"))
        if self._timer is None:
            self._drain()

    # -- answers ------------------------------------------------------------------------------
    def _drain(self) -> None:
        queue = self._queue
        while queue and self._timer is None and not self._closing:
            pending = queue.popleft()
            result = self._conn.site.app.handle(pending.request)
            if isinstance(result, Deferred):
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(result.delay, self._deferred, pending, result)
                return
            self._answer(pending, result)
        if not queue and self._timer is None and not self._closing:
            if self._close_after:
                self.shutdown()
            else:
                self._conn.mark_idle()

    def _deferred(self, pending: _Pending, result: Deferred) -> None:
        self._timer = None
        if self._closing:
            return
        self._answer(pending, result.response)
        self._drain()

    def _answer(self, pending: _Pending, response: Response) -> None:
        if response.reset is not None:
            self._closing = True
            self._conn.reset()
            return
        site = self._conn.site
        close = (
            response.close or site.options.always_close or not pending.keep_alive or site.stopping
        )
        data = serialize(
            response,
            head_only=pending.request.method == "HEAD",
            close=close,
            keep_alive_value=site.keep_alive_value,
        )
        self._conn.transport.write(data)
        if close:
            self._closing = True
            self._conn.close()
