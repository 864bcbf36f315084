"""HTTP steps: request skeletons compiled at load, built per iteration only where templated.

A request with no template is built once in `prepare` and the same `RawRequest` (the engine's
own request) is sent every iteration. A templated one starts from a skeleton (the runner's default
headers, the static headers and body already encoded) and only renders what varies: the URL's
path and query, the templated headers, the body.
"""

from __future__ import annotations

import json
import mimetypes
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ..files import InputFileError, read_input_file
from ..session.redirects import RUNN_MAX_REDIRECTS, follow_redirects, send_following
from ..transport import RawRequest, origin_of, to_httpx
from ._errors import EvalError
from ._response import ResponseView
from ._template import Template, render_text
from ._values import format_float, plain

if TYPE_CHECKING:
    from ..metrics import StepStats
    from ..session.scenario import VirtualUserView as VirtualUser
    from ..transport import RawResponse, Runner
    from ._openapi import OpenApiCheck

_PATH_SAFE = "!$&'()*+,;=:@/%-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_SAFE_PATH = re.compile(r"[A-Za-z0-9!$&'()*+,;=:@/%\-._~]*")
_SAFE_QUERY = re.compile(r"[A-Za-z0-9!$&'()*+,;=:@/%\-._~?]*")


# -- URLs -----------------------------------------------------------------------------------------
def clean_path(path: str) -> str:
    """Go's path.Clean: no `.`, `..` or `//` segments, no trailing slash (but `/` stays `/`)."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(segment)
    cleaned = "/".join(parts)
    return "/" + cleaned if rooted else (cleaned or ".")


def join_path(base: str, path: str) -> str:
    """The step's path joined to the endpoint's path, as runn (Go's URL.JoinPath) joins them."""
    if "/." not in path and "//" not in path and "/." not in base and not path.startswith("."):
        joined = base.rstrip("/") + (path if path.startswith("/") or not path else "/" + path)
    else:
        elements = [element for element in (base, path) if element]
        joined = clean_path("/" + "/".join(elements)) if elements else ""
        if path.endswith("/") and not joined.endswith("/"):
            joined += "/"
    return joined if joined.startswith("/") else "/" + joined


def merge_query(base: str | None, extra: str | None) -> str | None:
    if not base:
        return extra or None
    if not extra:
        return base
    return f"{base}&{extra}"


def _quote(text: str, safe_re: re.Pattern[str], safe: str) -> str:
    if safe_re.fullmatch(text):
        return text
    return urllib.parse.quote(text, safe=safe)


class UrlMaker:
    """Request targets on one endpoint, without re-parsing the origin every time."""

    def __init__(self, endpoint: str) -> None:
        self.base = httpx.URL(endpoint)
        self.origin = origin_of(self.base)
        self.authority = self.base.netloc
        self.base_path = self.base.raw_path.decode("ascii").partition("?")[0]
        if self.base_path == "/" and not endpoint.rstrip("?").split("://", 1)[1].count("/"):
            self.base_path = ""
        self.base_query = self.base.query.decode("ascii") or None

    def target(self, rendered: str) -> bytes:
        """The request target (path and query, percent-encoded) of a rendered step path."""
        path, _, raw_query = rendered.partition("?")
        if "#" in rendered:
            path = path.partition("#")[0]
            raw_query = raw_query.partition("#")[0]
        query = merge_query(self.base_query, raw_query or None)
        target = _quote(join_path(self.base_path, path), _SAFE_PATH, _PATH_SAFE)
        if query is not None:
            target += "?" + _quote(query, _SAFE_QUERY, _QUERY_SAFE)
        return target.encode("ascii")

    def url(self, rendered: str) -> httpx.URL:
        return self.base.copy_with(raw_path=self.target(rendered))


# -- bodies ---------------------------------------------------------------------------------------
class BodyEncoder:
    """Turns a body value into bytes for one media type."""

    def __init__(self, media_type: str, directory: Path, boundary: str) -> None:
        self.media_type = media_type
        essence = media_type.split(";", 1)[0].strip().lower()
        self.essence = essence
        self.directory = directory
        self.boundary = boundary
        self.content_type = (
            f"multipart/form-data; boundary={boundary}"
            if essence == "multipart/form-data" and "boundary=" not in media_type
            else media_type
        )

    def encode(self, value: Any) -> bytes:
        essence = self.essence
        if essence == "application/json" or essence.endswith("+json"):
            return _json_bytes(value)
        if essence == "application/x-www-form-urlencoded":
            return _form_bytes(value)
        if essence == "multipart/form-data":
            return _multipart_bytes(value, self.boundary, self.directory)
        if isinstance(value, str):
            return value.encode("utf-8")
        if essence == "text/plain" or not isinstance(value, Mapping | list):
            return render_text(value).encode("utf-8")
        if isinstance(value, Mapping) and isinstance(value.get("filename"), str):
            return _read(self.directory, value["filename"])
        if isinstance(value, list) and all(type(b) is int and 0 <= b < 256 for b in value):
            return bytes(value)
        raise EvalError(f"cannot send {type(value).__name__} as {self.media_type}")


def _json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise EvalError(f"cannot encode the body as JSON: {exc}") from None


def _scalar_text(value: Any) -> str:
    if isinstance(value, float):
        return format_float(value)
    return render_text(value)


def _form_pairs(prefix: str, value: Any) -> list[tuple[str, str]]:
    """ajg/form's flattening, as runn uses it: `a.b=1`, `list.0=x`."""
    if isinstance(value, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            pairs += _form_pairs(f"{prefix}.{key}" if prefix else str(key), item)
        return pairs
    if isinstance(value, list | tuple):
        pairs = []
        for index, item in enumerate(value):
            pairs += _form_pairs(f"{prefix}.{index}", item)
        return pairs
    return [(prefix, _scalar_text(value))]


def _form_bytes(value: Any) -> bytes:
    if not isinstance(value, Mapping):
        raise EvalError("a form body is a map of name: value")
    return urllib.parse.urlencode(_form_pairs("", value)).encode("ascii")


def _read(directory: Path, name: str) -> bytes:
    try:
        return read_input_file(directory / name.removeprefix("file://"))
    except InputFileError as exc:
        raise EvalError(f"cannot read {name}: {exc}") from None


def _multipart_bytes(value: Any, boundary: str, directory: Path) -> bytes:
    fields: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        for name, item in value.items():
            items = item if isinstance(item, list) else [item]
            fields += [(str(name), one) for one in items]
    elif isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        fields = [(str(name), one) for item in value for name, one in item.items()]
    else:
        raise EvalError("a multipart body is a map of name: value (or a file path)")
    chunks: list[bytes] = []
    for name, item in fields:
        text = item if isinstance(item, str) else _scalar_text(item)
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        path = directory / text.removeprefix("file://") if text else None
        if path is not None and path.is_file():  # a value naming a file uploads the file
            filename = path.name.replace("\\", "\\\\").replace('"', '\\"')
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            head = (
                f'Content-Disposition: form-data; name="{quoted}"; filename="{filename}"\r\n'
                f"Content-Type: {kind}\r\n"
            )
            content = _read(directory, text)
        else:
            head = f'Content-Disposition: form-data; name="{quoted}"\r\n'
            content = text.encode("utf-8")
        chunks.append(f"--{boundary}\r\n{head}\r\n".encode() + content + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


# -- the request ----------------------------------------------------------------------------------
HeaderTemplate = tuple[Template, list[Template]]
CACHE_SIZE = 64
CACHE_PROBATION = 512  # lookups before a cache that rarely hits is switched off


class RequestProgram:
    """One HTTP step's request: compiled at load, bound to an engine runner in `prepare`.

    A templated request is assembled from what its templates render: the path, the templated
    headers and the body. Runbooks often render the same few values (a var, a loop index, one
    user's token), so assembled requests are kept by their rendered parts and sent again; the
    engine has already serialized them. A step whose renderings rarely repeat stops caching.
    """

    def __init__(
        self,
        *,
        step_name: str,
        runner_name: str,
        endpoint: str,
        method: str,
        path: Template,
        headers: list[HeaderTemplate],
        body: Template | None,
        encoder: BodyEncoder | None,
        use_cookie: bool,
        follow_redirects: bool,
        cookie_domain: str | None = None,
    ) -> None:
        self.step_name = step_name
        self.runner_name = runner_name
        self.method = method
        self.urls = UrlMaker(endpoint)
        self.path = path
        self.body = body
        self.encoder = encoder
        self.use_cookie = use_cookie
        self.follow_redirects = follow_redirects
        self.keep_cookies = False  # set when any step of the run sends cookies
        # Whether an expression reads this step's response body: the transport keeps it only
        # then (set once every runbook is compiled).
        self.keep_body = True
        self.cookie_domain = cookie_domain or self.urls.base.netloc.decode("ascii")
        self.static_url = self.urls.url(path.value) if path.static else None
        self.static_target = self.urls.target(path.value) if path.static else None
        self.static_body = (
            encoder.encode(body.value) if encoder is not None and body is not None and body.static
            else None
        )  # fmt: skip
        self.static_headers, self.dynamic_headers = _split_headers(headers)
        self.extra_headers: list[tuple[str, str]] = []
        self.openapi: OpenApiCheck | None = None  # --http-openapi3
        self.runner: Runner | None = None
        self.stats: StepStats | None = None
        self.prebuilt: RawRequest | None = None
        self._skeleton: list[tuple[bytes, bytes]] = []
        self._empty_length = method in ("POST", "PUT", "PATCH")  # httpx sends Content-Length: 0
        self._cache: dict[Any, RawRequest] | None = None
        # the rendered path alone tells requests apart (and keys the cache)
        self._only_path_varies = not self.dynamic_headers and (body is None or body.static)
        self._lookups = self._hits = 0

    @property
    def is_static(self) -> bool:
        return (
            self.static_url is not None
            and not self.dynamic_headers
            and (self.body is None or self.static_body is not None)
        )

    def prepare(self, runner: Runner, stats: StepStats) -> None:
        self.runner = runner
        self.stats = stats
        headers = list(self.static_headers)
        has_type = "content-type" in _names(headers)
        if self.encoder is not None and self.body is not None and not has_type:
            headers.insert(0, ("Content-Type", self.encoder.content_type))
        headers += [h for h in self.extra_headers if h[0].lower() not in _names(headers)]
        self.prebuilt = None
        if self.is_static and self.static_url is not None and not self.use_cookie:
            self.prebuilt = runner.build_request(
                self.method,
                self.static_url,
                headers=headers,
                content=self.static_body,
                keep_body=self.keep_body,
            )
            return
        probe = runner.build_request(
            self.method, self.static_url or self.urls.base, headers=headers
        )
        dynamic = {name.value.lower() for name, _ in self.dynamic_headers if name.static}
        self._skeleton = [
            (name, value)
            for name, value in probe.headers
            if name.lower() not in (b"content-length", b"transfer-encoding")
            and name.decode("latin-1").lower() not in dynamic
        ]
        # A request that carries cookies is changed by the engine when sent: never share one.
        self._cache = None if self.use_cookie else {}
        self._lookups = self._hits = 0

    def build(self, scope: Any) -> RawRequest:
        """This iteration's request (the prebuilt one when nothing varies)."""
        if self.prebuilt is not None:
            return self.prebuilt
        path = None if self.static_url is not None else _text(self.path.render(scope))
        if self._only_path_varies:
            return self._cached(path, path, (), self.static_body)
        headers = (
            tuple(
                (_text(name.render(scope)), tuple(_header_values(v.render(scope) for v in values)))
                for name, values in self.dynamic_headers
            )
            if self.dynamic_headers
            else ()
        )
        body = self.static_body
        if body is None and self.body is not None and self.encoder is not None:
            body = self.encoder.encode(self.body.render(scope))
        return self._cached((path, headers, body), path, headers, body)

    def _cached(
        self,
        key: Any,
        path: str | None,
        headers: tuple[tuple[str, tuple[str, ...]], ...],
        body: bytes | None,
    ) -> RawRequest:
        """The request of these rendered parts: from the cache, else assembled (and kept)."""
        cache = self._cache
        if cache is None:
            return self._assemble(path, headers, body)
        request = cache.get(key)
        self._lookups += 1
        if request is not None:
            self._hits += 1
            return request
        request = self._assemble(path, headers, body)
        if len(cache) >= CACHE_SIZE:
            del cache[next(iter(cache))]
        cache[key] = request
        if self._lookups == CACHE_PROBATION and self._hits * 2 < self._lookups:
            self._cache = None  # renderings rarely repeat here: stop paying for the lookups
        return request

    def _assemble(
        self, path: str | None, dynamic: tuple[tuple[str, tuple[str, ...]], ...], body: bytes | None
    ) -> RawRequest:
        target = self.static_target if path is None else self.urls.target(path)
        assert target is not None
        headers = self._skeleton  # shared by the requests that add nothing to it; never mutated
        if dynamic or body or self._empty_length:
            headers = list(headers)
            for name, values in dynamic:
                _set_header(headers, name, values)
            if body or self._empty_length:
                _set_header(headers, "Content-Length", (str(len(body or b"")),))
        return RawRequest(
            self.method,
            self.urls.origin,
            self.urls.authority,
            target,
            headers,
            body or b"",
            keep_body=self.keep_body,
        )

    # Sending is split so that the common case (no cookie jar, no redirect) costs the step a
    # single `await vu.exchange(...)`: every coroutine layer is paid again on each resume.
    async def send_with_cookies(self, vu: VirtualUser, request: RawRequest) -> ResponseView:
        """Through the VU's cookie jar, following redirects as runn does: `useCookie`."""
        assert self.runner is not None and self.stats is not None
        limit = RUNN_MAX_REDIRECTS if self.follow_redirects else None
        response = await send_following(vu, self.runner, self.stats, request, limit)
        return ResponseView.of(response, self.cookie_domain)

    async def follow(
        self, vu: VirtualUser, request: RawRequest, raw: RawResponse
    ) -> tuple[RawRequest, RawResponse]:
        """The last hop of a redirect chain that `raw` starts (each hop counts as a request;
        the 10th redirect response fails the step, as Go's client does for runn)."""
        assert self.runner is not None and self.stats is not None
        return await follow_redirects(vu, self.runner, self.stats, request, raw, RUNN_MAX_REDIRECTS)

    def view(self, vu: VirtualUser, request: RawRequest, raw: RawResponse) -> ResponseView:
        """The response as expressions see it; its cookies go to the VU's jar if any step sends
        cookies (runn keeps every cookie it receives)."""
        view = ResponseView(raw.status, raw.headers, raw.body, self.cookie_domain)
        if self.keep_cookies and view.has_set_cookie():
            response = httpx.Response(raw.status, headers=raw.headers, request=to_httpx(request))
            vu.cookies.extract_cookies(response)
        return view


def _split_headers(
    headers: list[HeaderTemplate],
) -> tuple[list[tuple[str, str]], list[HeaderTemplate]]:
    static: list[tuple[str, str]] = []
    dynamic: list[HeaderTemplate] = []
    for name, values in headers:
        if name.static and all(value.static for value in values):
            static += [(name.value, v) for v in _header_values(value.value for value in values)]
        else:
            dynamic.append((name, values))
    return static, dynamic


def _header_values(values: Any) -> list[str]:
    flat: list[str] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            flat.append(_header_text(item))
    return flat


def _names(headers: list[tuple[str, str]]) -> set[str]:
    return {name.lower() for name, _ in headers}


def _header_text(value: Any) -> str:
    text = render_text(value)
    if "\n" in text or "\r" in text:
        raise EvalError("a header value cannot contain a newline")
    return text


def _set_header(headers: list[tuple[bytes, bytes]], name: str, values: tuple[str, ...]) -> None:
    """Set `name` to `values` in place, as `httpx.Headers` does: one value replaces the first
    field of that name and drops the others; several values are sent as fields of their own."""
    key = name.encode()
    lowered = key.lower()
    found = [index for index, (field, _) in enumerate(headers) if field.lower() == lowered]
    if len(values) == 1:
        for index in reversed(found[1:]):
            del headers[index]
        if found:
            headers[found[0]] = (key, values[0].encode())
        else:
            headers.append((key, values[0].encode()))
        return
    for index in reversed(found):
        del headers[index]
    headers += [(key, value.encode()) for value in values]


def _text(value: Any) -> str:
    return value if type(value) is str else render_text(value)
