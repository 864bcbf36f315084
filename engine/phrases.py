"""Error text as loadscope's one-line messages use it: a phrase after a colon, and a value
named in a line without its password and without filling the screen."""

from __future__ import annotations

from .redact import redact_url

SHOWN_LIMIT = 100  # characters of a value an error line quotes


def as_phrase(message: str) -> str:
    """`Address already in use` -> `address already in use`, to follow `...: `."""
    return message[:1].lower() + message[1:]


def shown_url(url: str, limit: int = SHOWN_LIMIT) -> str:
    """The URL as an error line names it: no password, and not a screenful."""
    shown = redact_url(url)
    return shown if len(shown) <= limit else shown[:limit] + "…"
