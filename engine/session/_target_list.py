"""Target lists (`loadscope run --targets FILE|-`): vegeta's two formats, parsed line by line.

HTTP format: a `METHOD URL` line, then `Name: value` header lines, then an optional `@path` body
file (relative to the list's folder), targets apart by blank lines (or by the next `METHOD URL`
line); `#` starts a comment line. JSON format: one object a line, {"method", "url", "header",
"body"}, `header` mapping names to lists of values and `body` in base64, as vegeta's
`-format=json`. The format is told by the first line that is neither blank nor a comment.

The parser is fed one line at a time, so a stream (stdin) is parsed as it arrives.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx

from ..hosts import NOT_HTTP, url_problem
from .scenario import TOKEN, check_header

MAX_BODY_FILE = 64 * 1024 * 1024


class TargetListError(ValueError):
    """A bad line: the message names the list and the line number."""


@dataclass(frozen=True, slots=True)
class Target:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    line: int = 0  # where it starts in the list

    @property
    def name(self) -> str:
        return f"{self.method} {self.url}"


class TargetParser:
    """Feed lines with `feed`; completed targets come back as they complete, `finish` at EOF."""

    def __init__(self, source: str, folder: Path | None = None) -> None:
        self.source = source
        self.folder = folder or Path.cwd()
        self.line = 0
        self.format: str | None = None  # "http" or "json", from the first meaningful line
        self._pending: _Pending | None = None

    def feed(self, raw: str) -> list[Target]:
        self.line += 1
        text = raw.rstrip("\r\n")
        stripped = text.strip()
        if self.format is None:
            if not stripped or stripped.startswith("#"):
                return []
            self.format = "json" if stripped.startswith("{") else "http"
        if self.format == "json":
            return [self._json(stripped)] if stripped else []
        return self._http(stripped)

    def finish(self) -> list[Target]:
        done = self._close()
        return [done] if done is not None else []

    # -- vegeta's HTTP format -------------------------------------------------------------------
    def _http(self, text: str) -> list[Target]:
        pending = self._pending
        if not text:
            done = self._close()
            return [done] if done is not None else []
        if text.startswith("#"):
            return []
        if pending is None or _looks_like_request_line(text):
            done = self._close()
            self._pending = self._request_line(text)
            return [done] if done is not None else []
        if text.startswith("@"):
            pending.body = self._body_file(text[1:].strip())
            done = self._close()
            return [done] if done is not None else []
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            self._fail(f"expected a 'Name: value' header, '@file' or a blank line, got {text!r}")
        self._header(pending, name.strip(), value.strip())
        return []

    def _request_line(self, text: str) -> _Pending:
        method, _, url = text.partition(" ")
        if not url.strip():
            self._fail(f"expected 'METHOD URL', got {text!r}")
        return _Pending(self._method(method), self._url(url.strip()), self.line)

    def _body_file(self, name: str) -> bytes:
        if not name:
            self._fail("'@' names no body file")
        path = Path(name).expanduser()
        path = path if path.is_absolute() else self.folder / path
        try:
            if path.stat().st_size > MAX_BODY_FILE:
                self._fail(f"body file {name} is larger than {MAX_BODY_FILE:,} bytes")
            return path.read_bytes()
        except OSError as exc:
            self._fail(f"cannot read body file {name}: {exc.strerror or exc}")

    def _close(self) -> Target | None:
        pending, self._pending = self._pending, None
        return pending.target() if pending is not None else None

    # -- JSON lines -----------------------------------------------------------------------------
    def _json(self, text: str) -> Target:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            self._fail(f"not JSON: {exc.msg} at column {exc.colno}")
        if not isinstance(data, dict):
            self._fail("expected a JSON object with method, url, header and body")
        unknown = set(data) - {"method", "url", "header", "body"}
        if unknown:
            self._fail(f"unknown key {sorted(unknown)[0]!r} (method, url, header, body)")
        url = data.get("url")
        if not isinstance(url, str):
            self._fail('"url" is missing or not a string')
        method = data.get("method", "GET")
        if not isinstance(method, str):
            self._fail('"method" is not a string')
        pending = _Pending(self._method(method), self._url(url), self.line)
        for name, values in self._json_headers(data.get("header")):
            self._header(pending, name, values)
        pending.body = self._json_body(data.get("body"))
        return pending.target()

    def _json_headers(self, header: object) -> Iterable[tuple[str, str]]:
        if header is None:
            return []
        if not isinstance(header, dict):
            self._fail('"header" must map names to lists of values')
        pairs = []
        for name, values in header.items():
            listed = [values] if isinstance(values, str) else values
            if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
                self._fail(f'"header" {name!r}: values must be strings')
            pairs += [(str(name), value) for value in listed]
        return pairs

    def _json_body(self, body: object) -> bytes | None:
        if body is None or body == "":
            return None
        if not isinstance(body, str):
            self._fail('"body" must be a base64 string')
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            self._fail('"body" is not valid base64')

    # -- checks shared by both ------------------------------------------------------------------
    def _method(self, method: str) -> str:
        if not TOKEN.fullmatch(method):
            self._fail(f"not an HTTP method: {method!r}")
        return method.upper()

    def _url(self, text: str) -> str:
        problem = url_problem(text)
        if problem == NOT_HTTP:
            self._fail(f"not an http(s) URL: {text!r}")
        if problem:
            self._fail(f"invalid URL {text!r}: {problem}")
        return str(httpx.URL(text))

    def _header(self, pending: _Pending, name: str, value: str) -> None:
        try:
            check_header(name, value)
        except ValueError as exc:
            self._fail(str(exc))
        pending.headers.append((name, value))

    def _fail(self, message: str) -> NoReturn:
        raise TargetListError(f"{self.source}:{self.line}: {message}")


class _Pending:
    __slots__ = ("body", "headers", "line", "method", "url")

    def __init__(self, method: str, url: str, line: int) -> None:
        self.method = method
        self.url = url
        self.line = line
        self.headers: list[tuple[str, str]] = []
        self.body: bytes | None = None

    def target(self) -> Target:
        return Target(self.method, self.url, tuple(self.headers), self.body, self.line)


def _looks_like_request_line(text: str) -> bool:
    """`GET http://...`: a method token, one space, an absolute http(s) URL."""
    method, _, rest = text.partition(" ")
    return bool(TOKEN.fullmatch(method)) and rest.lstrip().startswith(("http://", "https://"))


def parse_targets(lines: Iterable[str], source: str, folder: Path | None = None) -> list[Target]:
    """A whole list; TargetListError at the first bad line, or when it holds no target."""
    parser = TargetParser(source, folder)
    targets: list[Target] = []
    for line in lines:
        targets += parser.feed(line)
    targets += parser.finish()
    if not targets:
        raise TargetListError(f"{source}: no targets")
    return targets


def step_names(targets: Sequence[Target]) -> list[str]:
    """A row per target: `METHOD URL`, and `METHOD URL #2`... when a target repeats one."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for target in targets:
        count = seen[target.name] = seen.get(target.name, 0) + 1
        names.append(target.name if count == 1 else f"{target.name} #{count}")
    return names
