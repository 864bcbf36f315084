"""Host names and URLs a load can be pointed at: an IP literal, or a DNS name of letters,
digits, `-`, `_` and dots whose labels are 1-63 characters and whose whole is at most 253; a URL
is http:// or https:// with such a host and a port 1-65535 (or none). Anything else cannot be
resolved or connected to; checked at load, it is bad input instead of an error on every request.
"""

from __future__ import annotations

import ipaddress
import re
import string
from urllib.parse import unquote

import httpx

from .phrases import as_phrase

MAX_NAME = 253
MAX_LABEL = 63
NOT_HTTP = "only http:// and https:// URLs can be loaded"
NOT_IDNA = "the host is not a valid internationalized (IDNA) name"
# ASCII a host name may hold; other characters are the IDNA form's business (httpx's).
_NAME_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_.")
# `[IPv6]` with nothing but `:port` after it.
_BRACKETED = re.compile(r"\[[^\[\]]*\](:[^\[\]]*)?")


def url_problem(url: str) -> str:
    """Why `url` cannot be loaded ("" when it can), as one phrase to follow the URL."""
    if not url.strip():
        return "an empty URL"
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return NOT_HTTP
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    problem = _bracket_problem(authority) or _port_text_problem(authority)
    if problem:
        return problem
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoding an xn-- name can fail too
    except (httpx.InvalidURL, ValueError) as exc:
        return _refused_by_httpx(authority, exc)
    if not host:
        return "no host"
    dns_name = parsed.raw_host.decode("ascii", "replace")  # the xn-- form DNS limits apply to
    return host_problem(host, dns_name) or port_problem(parsed.port)


def _refused_by_httpx(authority: str, exc: Exception) -> str:
    """Why httpx could not read the URL, in a short phrase: its IDNA message repeats the whole
    host, maybe 250 characters."""
    # httpx before 0.28 refuses an overlong host itself, without saying why
    host = authority[1:].partition("]")[0] if authority.startswith("[") else authority
    problem = host_problem(host.partition(":")[0] or "_")
    if problem:
        return problem
    if isinstance(exc, UnicodeError) or "IDNA" in str(exc):  # idna's IDNAError is a UnicodeError
        return NOT_IDNA
    return as_phrase(str(exc))


def _bracket_problem(authority: str) -> str:
    """An IPv6 host is `[address]`, with nothing but `:port` after it."""
    if ("[" not in authority and "]" not in authority) or _BRACKETED.fullmatch(authority):
        return ""
    if "]" not in authority:
        return "the IPv6 host has no closing ']'"
    return "only :port may follow the IPv6 host's ']'"


def _port_text_problem(authority: str) -> str:
    """A port is ASCII digits: httpx would read `+8080`, ` 8080` or other scripts' digits as a
    number, where urllib, curl and browsers refuse them."""
    after_host = authority.rpartition("]")[2] if authority.startswith("[") else authority
    port = after_host.partition(":")[2]
    if port and not (port.isascii() and port.isdigit()):
        return f"the port {port!r} is not a number"
    return ""


def port_problem(port: int | None) -> str:
    if port is not None and not 0 < port < 65536:
        return f"port {port} is not 1-65535"
    return ""


def host_problem(host: str, dns_name: str = "") -> str:
    """Why `host` cannot be resolved ("" when it may be). DNS's length limits are checked on
    `dns_name`, the host's ASCII (xn--) form, when it is given."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return ""
    name = (dns_name or host).rstrip(".")
    bad = _bad_character(host)
    if bad:
        return f"the host {unquote(host)!r} cannot have {bad!r}"
    if len(name) > MAX_NAME:
        return f"the host name is {len(name):,} characters long; DNS allows {MAX_NAME}"
    if any(not 1 <= len(label) <= MAX_LABEL for label in name.split(".")):
        return f"a label of the host name is empty or longer than {MAX_LABEL} characters"
    return ""


def _bad_character(host: str) -> str:
    """The first ASCII character a host name cannot hold ("" if none); httpx writes a space as
    %20, so the host is read decoded, and a `%` that decodes to nothing wrong is still wrong."""
    decoded = unquote(host)
    for character in decoded:
        if character.isascii() and character not in _NAME_CHARACTERS:
            return character
    return "%" if "%" in host else ""
