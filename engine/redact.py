"""Secrets never reach an output: URL userinfo, the values of `Authorization`,
`Proxy-Authorization` and `Cookie` headers, the values a runbook lists under `secrets:`
(those known at load, and those bound while running), and the values of runbook vars whose
names mark them as credentials (`CREDENTIAL_WORDS`, as in Sentry's default scrubbing list).
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


# A var whose name contains one of these (any case; `-` read as `_`) is a credential: its value
# is masked as if the runbook listed it under `secrets:`. Sentry's default scrubbing list.
CREDENTIAL_WORDS = (
    "password", "passwd", "secret", "token", "api_key", "apikey", "auth", "credentials",
    "private_key",
)  # fmt: skip
_CREDENTIAL = "|".join(CREDENTIAL_WORDS).replace("_", "[_-]")
# `password: hunter2`, `api_key=abc`, `"token": "abc"` in echoed text: the value is masked
_ASSIGNMENT = re.compile(
    rf"(?P<name>[\w-]*(?:{_CREDENTIAL})[\w-]*[\"']?\s*(?::|=(?!=))\s*)(?P<value>[\"'][^\"'\r\n]*[\"']"
    r"|[^\s,;)}\]]+)",
    re.IGNORECASE,
)


def is_credential_name(name: str) -> bool:
    """Whether a var called `name` holds a credential (`db_password`, `X-Api-Key`, `authToken`)."""
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in CREDENTIAL_WORDS)


def credential_values(variables: Any, named: bool = False) -> list[str]:
    """The scalar values, however deep, held under a credential-named key of `variables`."""
    found: list[str] = []
    if isinstance(variables, dict):
        for key, value in variables.items():
            found += credential_values(value, named or is_credential_name(str(key)))
    elif isinstance(variables, list | tuple):
        for item in variables:
            found += credential_values(item, named)
    elif named and isinstance(variables, str | int | float) and not isinstance(variables, bool):
        found.append(str(variables))
    return found


def mask_credential_assignments(text: str) -> str:
    """`password: hunter2` -> `password: ***` (for runbook text echoed in a message)."""
    return _ASSIGNMENT.sub(lambda m: f"{m['name']}{MASK}", text)


MAX_LEARNT = 1000  # values learnt while running; each output is checked against them all


class _Known:
    values: set[str] = set()
    ordered: list[str] = []  # longest first, so a secret inside another is masked whole
    learnt: list[str] = []  # found while running, in order: what a worker tells its parent


def add_secrets(values: Iterable[object]) -> None:
    """Values to mask in every output from now on (header values, runbook `secrets:`)."""
    before = len(_Known.values)
    for value in values:
        text = str(value)
        if len(text) >= MIN_SECRET:
            _Known.values.add(text)
            for part in text.split():  # "Bearer TOKEN": the token alone is a secret too
                if len(part) >= 8:
                    _Known.values.add(part)
    if len(_Known.values) != before:
        _Known.ordered = sorted(_Known.values, key=len, reverse=True)


def learn_secret(value: object) -> None:
    """A value a runbook's `secrets:` names, seen while running (a token bound from a
    response): masked from now on in this process, and passed on to the parent process in
    snapshots (`learnt_secrets`). At most MAX_LEARNT of them."""
    text = str(value)
    if len(text) < MIN_SECRET or text in _Known.values or len(_Known.learnt) >= MAX_LEARNT:
        return
    _Known.learnt.append(text)
    add_secrets([text])


def learnt_secrets() -> tuple[str, ...]:
    return tuple(_Known.learnt)


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
    for value in _Known.ordered:
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
    _Known.ordered = []
    _Known.learnt.clear()
