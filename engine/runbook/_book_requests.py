"""Parsing an HTTP step's request: `runner: {/path: {method: {headers, body, ...}}}`."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from ._book_fields import Warn, flag
from ._errors import Location, RunbookError
from ._yaml import YMap, YNode, YScalar, YSeq, kind_of

REQUEST_KEYS = frozenset({"headers", "body", "useCookie", "trace"})


BODY_REQUIRED = frozenset({"POST", "PATCH"})


@dataclass(slots=True)
class RequestSpec:
    runner: str
    location: Location
    path: YScalar
    method: str
    headers: YMap | None
    media_type: str | None
    body: YNode | None
    body_location: Location
    use_cookie: bool | None
    trace: bool | None = None


def _check_static_header(name: YScalar, value: YNode) -> None:
    """What HTTP cannot carry is bad input at load: a name that is not a token, a value that is
    not ASCII or holds CR, LF or NUL (templated ones are checked when rendered)."""
    text = str(name.value)
    if "{{" not in text and not _HEADER_NAME.fullmatch(text):
        raise RunbookError(name.location, f"invalid header name {text!r}")
    for item in value.items if isinstance(value, YSeq) else [value]:
        content = item.value if isinstance(item, YScalar) else None
        if not isinstance(content, str) or "{{" in content:
            continue
        if not content.isascii() or any(c in content for c in "\r\n\0"):
            raise RunbookError(
                item.location, f"header {text}: a value must be ASCII without CR, LF or NUL"
            )


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token


def parse_request(name: str, key: YScalar, node: YNode, warn: Warn) -> RequestSpec:
    if not isinstance(node, YMap) or len(node.items) != 1:
        raise RunbookError(
            node.location,
            "an HTTP step is `runner: {/path: {method: {...}}}` with one path",
        )
    path, methods = node.items[0]
    if not isinstance(methods, YMap) or len(methods.items) != 1:
        raise RunbookError(
            path.location, f"path {path.value!r} needs exactly one method, like `get:`"
        )
    method_key, options = methods.items[0]
    method = method_key.value.upper()
    if not method.isalpha():
        raise RunbookError(method_key.location, f"invalid HTTP method {method_key.value!r}")
    if isinstance(options, YScalar) and options.value is None:
        options = YMap(options.location, [])
    if not isinstance(options, YMap):
        raise RunbookError(
            options.location,
            f"`{method_key.value}` is a map of headers, body ..., not {kind_of(options)}",
        )
    for option, _ in options.items:
        if option.value not in REQUEST_KEYS:
            raise RunbookError(
                option.location,
                f"unknown request key `{option.value}`",
                "use headers, body or useCookie",
            )
    headers = options.get("headers")
    if headers is not None and not (isinstance(headers, YScalar) and headers.value is None):
        if isinstance(headers, YScalar) and "{{" in str(headers.value):
            raise RunbookError(
                headers.location,
                "`headers` from a template is expanded at load: the map must be known then",
                "use vars or ${ENV}, not values from earlier steps",
            )
        if not isinstance(headers, YMap):
            raise RunbookError(headers.location, f"`headers` is a map, not {kind_of(headers)}")
        for header_name, value in headers.items:
            if isinstance(value, YSeq):
                bad = [item for item in value.items if not isinstance(item, YScalar)]
                if bad:
                    raise RunbookError(bad[0].location, "a header value is a string")
            elif not isinstance(value, YScalar):
                raise RunbookError(
                    value.location, f"header {header_name.value!r} is a string or a list"
                )
            _check_static_header(header_name, value)
    else:
        headers = None
    media_type, body, body_location = _body(options.get("body"), options.location)
    if method in BODY_REQUIRED and body is None:
        raise RunbookError(
            body_location,
            f"{method} needs a body, as in runn",
            "add body: {application/json: ...}",
        )
    use_cookie = None
    if options.get("useCookie") is not None:
        use_cookie = flag(options, "useCookie")
    trace = None
    if options.get("trace") is not None:
        trace = flag(options, "trace")
    return RequestSpec(
        runner=name, location=key.location, path=path, method=method,
        headers=headers, media_type=media_type, body=body, body_location=body_location,
        use_cookie=use_cookie, trace=trace,
    )  # fmt: skip


def _body(node: YNode | None, fallback: Location) -> tuple[str | None, YNode | None, Location]:
    if node is None:
        return None, None, fallback
    if isinstance(node, YScalar) and (node.value is None or node.value == "nil"):
        return None, None, node.location
    if not isinstance(node, YMap) or len(node.items) != 1:
        raise RunbookError(
            node.location,
            "`body` is null or one `media/type: value`",
            "e.g. body: {application/json: {name: alice}}",
        )
    media, value = node.items[0]
    if isinstance(value, YScalar) and (value.value is None or value.value == "nil"):
        return media.value, None, media.location
    return media.value, value, media.location


def new_boundary() -> str:
    return secrets.token_hex(16)
