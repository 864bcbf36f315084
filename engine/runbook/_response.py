"""What expressions see of a response: `status`, `headers`, `body`, `rawBody` and `cookies`.

Each field is computed on first use, so a step whose test only reads `status` never decodes the
body. Header names are in the canonical form Go gives them (`Content-Type`), values are lists.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ._values import register_map_type

FIELDS = ("status", "headers", "body", "rawBody", "cookies")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ENCODED = frozenset({b"gzip", b"deflate", b"br", b"zstd", b"x-gzip"})


def canonical_header(name: str) -> str:
    """Go's CanonicalMIMEHeaderKey: `content-type` -> `Content-Type`."""
    if not _TOKEN.fullmatch(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class ResponseView(Mapping[str, Any]):
    """A lazily decoded response, as `steps[i].res` and `current.res`."""

    __slots__ = ("_cache", "_cookie_domain", "_payload", "_raw_headers", "status")

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, cookie_domain: str
    ) -> None:
        self.status = status
        self._raw_headers = headers
        self._payload = body
        self._cookie_domain = cookie_domain
        self._cache: dict[str, Any] = {}

    def get(self, key: Any, default: Any = None) -> Any:
        if key == "status":
            return self.status
        if key not in FIELDS:
            return default
        cache = self._cache
        if key not in cache:
            cache[key] = _FIELD_READERS[key](self)
        return cache[key]

    def __getitem__(self, key: str) -> Any:
        if key not in FIELDS:
            raise KeyError(key)
        return self.get(key)

    def __iter__(self) -> Iterator[str]:
        return iter(FIELDS)

    def __len__(self) -> int:
        return len(FIELDS)

    def __repr__(self) -> str:
        return f"<response {self.status}>"

    def raw_parts(self) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The header fields and body as received."""
        return self._raw_headers, self._payload

    # -- fields -----------------------------------------------------------------------------------
    def read_headers(self) -> dict[str, list[str]]:
        headers: dict[str, list[str]] = {}
        for name, value in self._raw_headers:
            key = canonical_header(name.decode("latin-1"))
            headers.setdefault(key, []).append(value.decode("latin-1"))
        return headers

    def header(self, name: bytes) -> bytes | None:
        for key, value in self._raw_headers:
            if key.lower() == name:
                return value
        return None

    def content(self) -> bytes:
        """The body, decoded from gzip/deflate/br if the server encoded it."""
        if "content" in self._cache:
            cached: bytes = self._cache["content"]
            return cached
        body = self._payload
        encoding = self.header(b"content-encoding")
        if encoding and encoding.strip().lower() in _ENCODED and body:
            response = httpx.Response(
                self.status, headers=self._raw_headers, stream=httpx.ByteStream(body)
            )
            with contextlib.suppress(httpx.DecodingError):  # keep the bytes as they came
                body = response.read()
        self._cache["content"] = body
        return body

    def read_raw_body(self) -> str:
        return self.content().decode("utf-8", "replace")

    def read_body(self) -> Any:
        content_type = self.header(b"content-type") or b""
        content = self.content()
        if b"json" not in content_type or not content:
            return None
        try:
            return json.loads(content)
        except (ValueError, RecursionError):
            return None  # runn keeps going with a nil body

    def read_cookies(self) -> dict[str, dict[str, Any]]:
        cookies: dict[str, dict[str, Any]] = {}
        for name, value in self._raw_headers:
            if name.lower() == b"set-cookie":
                cookie = parse_set_cookie(value.decode("latin-1"), self._cookie_domain)
                if cookie is not None:
                    cookies[cookie["Name"]] = cookie
        return cookies

    def has_set_cookie(self) -> bool:
        return any(name.lower() == b"set-cookie" for name, _ in self._raw_headers)

    @classmethod
    def of(cls, response: httpx.Response, cookie_domain: str) -> ResponseView:
        view = cls(response.status_code, list(response.headers.raw), b"", cookie_domain)
        view._cache["content"] = response.content
        return view


register_map_type(ResponseView)
_FIELD_READERS = {
    "headers": ResponseView.read_headers,
    "body": ResponseView.read_body,
    "rawBody": ResponseView.read_raw_body,
    "cookies": ResponseView.read_cookies,
}


def parse_set_cookie(header: str, default_domain: str) -> dict[str, Any] | None:
    """A Set-Cookie header as runn exposes it: Name, Value, Path, Domain, Expires, Raw ..."""
    parts = header.split(";")
    name, sep, value = parts[0].partition("=")
    name = name.strip()
    if not sep or not name:
        return None
    cookie: dict[str, Any] = {
        "Name": name,
        "Value": value.strip().strip('"'),
        "Path": "",
        "Domain": default_domain,
        "Expires": None,
        "MaxAge": 0,
        "Secure": False,
        "HttpOnly": False,
        "SameSite": "",
        "Raw": header,
    }
    for attribute in parts[1:]:
        key, _, val = attribute.strip().partition("=")
        key = key.lower()
        val = val.strip()
        if key == "path":
            cookie["Path"] = val
        elif key == "domain" and val:
            cookie["Domain"] = val.lstrip(".") if val.startswith(".") else val
        elif key == "expires":
            cookie["Expires"] = val
        elif key == "max-age":
            with contextlib.suppress(ValueError):
                cookie["MaxAge"] = int(val)
        elif key == "secure":
            cookie["Secure"] = True
        elif key == "httponly":
            cookie["HttpOnly"] = True
        elif key == "samesite":
            cookie["SameSite"] = val
    return cookie


def cookie_expired(cookie: Mapping[str, Any]) -> bool:
    if cookie.get("MaxAge", 0) < 0:
        return True
    expires = cookie.get("Expires")
    if not expires:
        return False
    try:
        return parsedate_to_datetime(expires).timestamp() < time.time()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
