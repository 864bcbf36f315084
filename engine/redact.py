"""Secrets never reach an output: URL userinfo, the values of `Authorization`,
`Proxy-Authorization` and `Cookie` headers, and the values a runbook lists under `secrets:`.
Every report, file and line loadscope writes passes through `redact_text` or `redact_value`.

The known values are process-wide: the command line registers them once, when it reads its
flags and runbooks, and every writer after that redacts them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
MIN_SECRET = 3  # shorter values would mask ordinary text ("a", "1") everywhere
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#@\s\"']+)@")
_HEADER = re.compile(
    r"(?P<name>\b(?:proxy-authorization|authorization|cookie)\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>[^\"'\r\n]+)",
    re.IGNORECASE,
)


class _Known:
    values: set[str] = set()


def add_secrets(values: Iterable[object]) -> None:
    """Values to mask in every output from now on (header values, runbook `secrets:`)."""
    for value in values:
        text = str(value)
        if len(text) >= MIN_SECRET:
            _Known.values.add(text)
            for part in text.split():  # "Bearer TOKEN": the token alone is a secret too
                if len(part) >= 8:
                    _Known.values.add(part)


def add_header_secrets(headers: Iterable[tuple[str, str]]) -> None:
    add_secrets(value for name, value in headers if name.lower() in SECRET_HEADERS)


def redact_url(url: str) -> str:
    """`http://alice:pw@host/` -> `http://***@host/`."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", url)


def redact_text(text: str) -> str:
    """Userinfo in any URL, secret header values, and every registered value masked."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _HEADER.sub(lambda m: f"{m['name']}{MASK}", text)
    for value in sorted(_Known.values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_value(value: Any) -> Any:
    """A JSON-like document with every string (keys too) redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


def forget_secrets() -> None:
    """For a process that runs several commands (tests)."""
    _Known.values.clear()
