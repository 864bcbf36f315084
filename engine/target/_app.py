"""The target's endpoints, the same for every protocol: a request in, a response (or a timer) out.

Handlers are plain functions of a `Request`; nothing here touches a socket. `/delay/{ms}` returns
a `Deferred`, which the protocol answers from a loop timer, so the loop never blocks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from http import HTTPStatus

from ._forms import URLENCODED, UnsupportedForm, media_type, parse_form, parse_query

MAX_BYTES = 64 * 1024 * 1024
MAX_DELAY_MS = 600_000
MAX_REDIRECTS = 1000
MAX_ERROR_CODE = 0xFFFF_FFFF  # HTTP/2's error codes are 32 bits; HTTP/3's fit too
SESSION_COOKIE = "session"

TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"
OCTETS = b"application/octet-stream"


class Request:
    __slots__ = ("body", "headers", "http_version", "method", "path", "query")

    def __init__(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],  # names lower-case, in arrival order
        body: bytes,
        http_version: str,
    ) -> None:
        path, _, query = target.partition(b"?")
        self.method = method
        self.path = path.decode("latin-1")
        self.query = query.decode("latin-1")
        self.headers = headers
        self.body = body
        self.http_version = http_version

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def text_header(self, name: bytes) -> str:
        value = self.header(name)
        return "" if value is None else value.decode("latin-1")


def request_from_fields(
    fields: list[tuple[bytes, bytes]], body: bytes, http_version: str
) -> Request | None:
    """An HTTP/2 or HTTP/3 request from its header fields (pseudo-headers first); None when
    `:method` or `:path` is missing. `:authority` becomes `host`, as handlers read it."""
    method = target = authority = b""
    headers: list[tuple[bytes, bytes]] = []
    for name, value in fields:
        if name[:1] != b":":
            headers.append((name, value))
        elif name == b":method":
            method = value
        elif name == b":path":
            target = value
        elif name == b":authority":
            authority = value
    if not method or not target:
        return None
    if authority and not any(name == b"host" for name, _ in headers):
        headers.insert(0, (b"host", authority))
    return Request(method.decode("latin-1"), target, headers, body, http_version)


class Response:
    """Treat as immutable: the constant ones are shared by every request."""

    __slots__ = ("body", "close", "content_type", "headers", "reset", "status")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: bytes = TEXT,
        headers: tuple[tuple[bytes, bytes], ...] = (),
        *,
        close: bool = False,  # answer, then close the connection (HTTP/2: GOAWAY)
        reset: int | None = None,  # no answer: reset the stream with this error code instead
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self.close = close
        self.reset = reset


class Deferred:
    """Send `response` after `delay` seconds."""

    __slots__ = ("delay", "response")

    def __init__(self, delay: float, response: Response) -> None:
        self.delay = delay
        self.response = response


Result = Response | Deferred


def json_response(
    data: object, status: int = 200, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode() + b"\n"
    return Response(status, body, JSON, headers)


class _Reject(Exception):
    def __init__(self, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()):
        super().__init__(message)
        self.status = status
        self.headers = headers


OK = Response(200, b"ok\n")
SMALL_JSON = json_response({"ok": True, "service": "loadscope-target", "items": [1, 2, 3]})
NOT_FOUND = Response(404, b"not found\n")
CLOSE = Response(200, b"ok\n", close=True)


class Sessions:
    """Signed session tokens: any worker of a target can check what another one issued."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, user: str) -> str:
        name = base64.urlsafe_b64encode(user.encode()).rstrip(b"=").decode()
        return f"{name}.{self._sign(name)}"

    def user(self, token: str) -> str | None:
        name, _, signature = token.partition(".")
        if not hmac.compare_digest(signature, self._sign(name)):
            return None
        try:
            return base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None

    def _sign(self, name: str) -> str:
        return hmac.new(self._secret, name.encode(), hashlib.sha256).hexdigest()[:32]


class App:
    def __init__(
        self,
        stats: Callable[[], dict[str, object]],
        secret: bytes,
        *,
        worker: int = 0,
        workers: int = 1,
    ) -> None:
        self._stats = stats
        self._sessions = Sessions(secret)
        self._users: dict[int, dict[str, object]] = {}
        # Ids stay unique across workers (each takes every `workers`-th), though a user lives
        # only in the worker that created it.
        self._next_user_id = worker + 1
        self._user_id_step = workers
        self._exact: dict[str, Callable[[Request], Result]] = {
            "/": lambda _: OK,
            "/json": lambda _: SMALL_JSON,
            "/echo": _echo,
            "/close": lambda _: CLOSE,
            "/users": self._users_collection,
            "/login": self._login,
            "/me": self._me,
            "/form": _form,
            "/host": _host,
            "/cookies": _cookies,
            "/cookies/set": _set_cookies,
            "/response-headers": _response_headers,
            "/bearer": _bearer,
            "/__stats": lambda _: json_response(self._stats()),
        }
        self._prefixed: dict[str, Callable[[Request, str], Result]] = {
            "bytes": _bytes,
            "delay": _delay,
            "status": _status,
            "redirect": _redirect,
            "reset": _reset,
            "users": self._user,
        }

    def handle(self, request: Request) -> Result:
        try:
            handler = self._exact.get(request.path)
            if handler is not None:
                return handler(request)
            head, _, rest = request.path[1:].partition("/")
            prefixed = self._prefixed.get(head)
            if prefixed is not None and rest:
                return prefixed(request, rest)
            return NOT_FOUND
        except _Reject as exc:
            return json_response({"error": str(exc)}, exc.status, exc.headers)

    # -- users --------------------------------------------------------------------------------
    def _users_collection(self, request: Request) -> Result:
        _allow(request, "GET", "POST")
        if request.method != "POST":
            return json_response({"users": list(self._users.values())})
        data = _json_body(request)
        if not isinstance(data, dict):
            raise _Reject(400, "expected a JSON object")
        user_id = self._next_user_id
        self._next_user_id += self._user_id_step
        user = self._users[user_id] = {**data, "id": user_id}
        return json_response(user, 201, ((b"location", b"/users/%d" % user_id),))

    def _user(self, request: Request, rest: str) -> Result:
        user_id = _number(rest)
        _allow(request, "GET")
        user = self._users.get(user_id)
        if user is None:
            raise _Reject(404, f"no user {user_id}")
        return json_response(user)

    # -- sessions -----------------------------------------------------------------------------
    def _login(self, request: Request) -> Result:
        _allow(request, "GET", "POST")
        fields: dict[str, object] = dict(parse_query(request.query))
        if request.method == "POST" and request.body:
            fields.update(_login_fields(request))
        user = fields.get("user") or fields.get("username") or "guest"
        if not isinstance(user, str):
            raise _Reject(400, "user must be a string")
        token = self._sessions.issue(user)
        cookie = f"{SESSION_COOKIE}={token}; Path=/".encode()
        return json_response({"user": user, "session": token}, 200, ((b"set-cookie", cookie),))

    def _me(self, request: Request) -> Result:
        token = _cookie(request, SESSION_COOKIE)
        user = None if token is None else self._sessions.user(token)
        if user is None:
            raise _Reject(401, "not logged in")
        return json_response({"user": user, "authenticated": True})


# -- endpoints without state ------------------------------------------------------------------
def _echo(request: Request) -> Response:
    headers: dict[str, str] = {}
    for name, value in request.headers:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        if key in headers:  # HTTP/2 splits cookies into one field each
            text = headers[key] + ("; " if key == "cookie" else ", ") + text
        headers[key] = text
    try:
        body, encoding = request.body.decode(), "utf-8"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(request.body).decode(), "base64"
    parsed = None
    if request.body and "json" in request.text_header(b"content-type"):
        try:
            parsed = json.loads(request.body)
        except ValueError:
            parsed = None
    return json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "args": parse_query(request.query),
            "headers": headers,
            "body": body,
            "body_encoding": encoding,
            "json": parsed,
            "http_version": request.http_version,
        }
    )


def _host(request: Request) -> Response:
    """The host the client asked for (Host, or HTTP/2's :authority): what hostRules keep."""
    host = request.header(b"host") or b""
    return json_response({"host": host.decode("latin-1")})


def _cookies(request: Request) -> Response:
    """The cookies the client sent, by name."""
    cookies: dict[str, str] = {}
    for key, value in request.headers:
        if key == b"cookie":
            for pair in value.decode("latin-1").split(";"):
                name, sep, text = pair.strip().partition("=")
                if sep and name:
                    cookies[name] = text
    return json_response({"cookies": cookies})


def _set_cookies(request: Request) -> Response:
    """`/cookies/set?a=1&b=2`: sets each as a cookie (Path=/) and redirects to /cookies."""
    headers = [(b"location", b"/cookies")]
    for name, value in parse_query(request.query).items():
        text = value if isinstance(value, str) else str(value[-1])
        headers.append((b"set-cookie", f"{name}={text}; Path=/".encode("latin-1")))
    return Response(302, b"", TEXT, tuple(headers))


def _bearer(request: Request) -> Response:
    """`Authorization: Bearer TOKEN` -> {"authenticated": true, "token": TOKEN}, else 401."""
    scheme, _, token = request.text_header(b"authorization").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _Reject(401, "a bearer token is needed", ((b"www-authenticate", b"Bearer"),))
    return json_response({"authenticated": True, "token": token.strip()})


def _response_headers(request: Request) -> Response:
    """`/response-headers?Set-Cookie=a%3D1&X-Id=2`: each query pair becomes a response header
    (and is echoed as JSON), as httpbin does."""
    fields = parse_query(request.query)
    headers = []
    for name, value in fields.items():
        for text in [value] if isinstance(value, str) else value:
            headers.append((name.encode("latin-1"), str(text).encode("latin-1")))
    return json_response(fields, 200, tuple(headers))


def _form(request: Request) -> Response:
    try:
        fields, files = parse_form(request.text_header(b"content-type"), request.body)
    except UnsupportedForm as exc:
        raise _Reject(415, str(exc)) from None
    kind = media_type(request.text_header(b"content-type"))
    return json_response({"content_type": kind, "fields": fields, "files": files})


def _bytes(_: Request, rest: str) -> Response:
    size = _number(rest)
    if size > MAX_BYTES:
        raise _Reject(400, f"at most {MAX_BYTES} bytes")
    return Response(200, b"x" * size, OCTETS)


def _delay(_: Request, rest: str) -> Deferred:
    ms = _number(rest)
    if ms > MAX_DELAY_MS:
        raise _Reject(400, f"at most {MAX_DELAY_MS} ms")
    # libuv rounds timers to whole milliseconds and may fire up to 1 ms early: never answer early.
    return Deferred(ms / 1000 + 0.001, json_response({"delayed_ms": ms}))


def _status(_: Request, rest: str) -> Response:
    code = _number(rest)
    if not 200 <= code <= 599:
        raise _Reject(400, "status must be within 200-599")
    return Response(code, f"{code} {_phrase(code)}\n".encode())


def _reset(_: Request, rest: str) -> Response:
    """`/reset/{code}`: the stream is reset with that error code (HTTP/2 RST_STREAM, HTTP/3
    RESET_STREAM); HTTP/1.1 has no streams, so its connection is reset (a TCP RST)."""
    code = _number(rest)
    if code > MAX_ERROR_CODE:
        raise _Reject(400, f"the error code is at most {MAX_ERROR_CODE}")
    return Response(reset=code)


def _redirect(_: Request, rest: str) -> Response:
    hops = _number(rest)
    if hops > MAX_REDIRECTS:
        raise _Reject(400, f"at most {MAX_REDIRECTS} redirects")
    location = b"/" if hops <= 1 else b"/redirect/%d" % (hops - 1)
    return Response(302, b"", TEXT, ((b"location", location),))


# -- helpers ----------------------------------------------------------------------------------
def _number(text: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise _Reject(404, "not found")
    return int(text)


def _allow(request: Request, *methods: str) -> None:
    if request.method not in methods and not (request.method == "HEAD" and "GET" in methods):
        allow = ", ".join(methods).encode()
        raise _Reject(405, f"method {request.method} not allowed", ((b"allow", allow),))


def _json_body(request: Request) -> object:
    try:
        return json.loads(request.body)
    except ValueError:
        raise _Reject(400, "invalid JSON body") from None


def _login_fields(request: Request) -> dict[str, object]:
    kind = media_type(request.text_header(b"content-type"))
    if kind == URLENCODED or kind.startswith("multipart/"):
        try:
            return dict(parse_form(request.text_header(b"content-type"), request.body)[0])
        except UnsupportedForm as exc:
            raise _Reject(400, str(exc)) from None
    data = _json_body(request)  # JSON, whether or not it says so
    if not isinstance(data, dict):
        raise _Reject(400, "expected a JSON object")
    return data


def _cookie(request: Request, name: str) -> str | None:
    for key, value in request.headers:
        if key != b"cookie":
            continue
        for pair in value.decode("latin-1").split(";"):
            key_text, _, text = pair.strip().partition("=")
            if key_text == name:
                return text
    return None


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"
