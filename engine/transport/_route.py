"""Where a runner's connections are dialled: straight to the origin, through an HTTP proxy
(`--proxy`, or HTTP_PROXY / HTTPS_PROXY / ALL_PROXY minus NO_PROXY, as httpx and curl read them),
or over a unix socket (`--unix-socket`).

Through a proxy, plain-HTTP/1.1 requests are forwarded in absolute form (`GET http://host/path`);
https and h2c go through a CONNECT tunnel, TLS running end to end inside it.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from ..hosts import url_problem

_PROXY_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy: where to connect, how to authenticate, and how to name it (no password)."""

    host: str
    port: int
    display: str
    authorization: str | None = None  # the Proxy-Authorization value, from the URL's userinfo
    source: str = "--proxy"  # or the environment variable it came from

    def request_headers(self) -> bytes:
        """Header lines every forwarded request or CONNECT carries."""
        if self.authorization is None:
            return b""
        return b"Proxy-Authorization: " + self.authorization.encode("latin-1") + b"\r\n"


@dataclass(frozen=True, slots=True)
class Route:
    """How connections to one origin are made."""

    proxy: Proxy | None = None
    unix_socket: str | None = None

    @property
    def direct(self) -> bool:
        return self.proxy is None and self.unix_socket is None

    def describe(self) -> str:
        if self.unix_socket is not None:
            return f"unix socket {self.unix_socket}"
        if self.proxy is not None:
            return f"proxy {self.proxy.display} (from {self.proxy.source})"
        return "direct"


DIRECT = Route()


def parse_proxy(text: str, source: str = "--proxy") -> Proxy:
    """`http://[user:password@]host[:port]`; a bare `host:port` is taken as http://.
    ValueError (one line) for anything else: https and SOCKS proxies are not supported."""
    value = text.strip()
    if "://" not in value:
        value = f"http://{value}"
    if value.partition("://")[0].lower() != "http":
        raise ValueError(f"{source}: {text!r}: only http:// proxies are supported")
    problem = url_problem(value)
    if problem == "no host":
        raise ValueError(f"{source}: {text!r} names no host")
    if problem:
        raise ValueError(f"{source}: {text!r} is not a proxy URL: {problem}")
    parts = httpx.URL(value)  # the parser url_problem checked it with: it reads it
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"{source}: {text!r}: a proxy URL has no path")
    host = parts.host  # url_problem found one
    port = parts.port or _PROXY_PORTS[parts.scheme]
    shown = f"[{host}]" if ":" in host else host
    authorization = None
    if parts.userinfo:
        token = base64.b64encode(f"{parts.username}:{parts.password}".encode()).decode("ascii")
        authorization = f"Basic {token}"
    return Proxy(host, port, f"http://{shown}:{port}", authorization, source)


def _env(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """The lower-case variable first, as curl and httpx read them; empty counts as unset."""
    for key in (name.lower(), name.upper()):
        value = environ.get(key, "").strip()
        if value:
            return key, value
    return None


def proxy_from_env(scheme: str, environ: Mapping[str, str]) -> Proxy | None:
    found = _env(environ, f"{scheme}_proxy") or _env(environ, "all_proxy")
    if found is not None and found[0] == "HTTP_PROXY" and "REQUEST_METHOD" in environ:
        return None  # CGI sets HTTP_PROXY from a request's Proxy header (httpoxy), as Go knows
    return parse_proxy(found[1], found[0]) if found is not None else None


def bypasses_proxy(host: str, port: int, no_proxy: str) -> bool:
    """NO_PROXY as curl, Go and httpx read it: `*`; a domain (with or without a leading dot)
    that matches itself and its subdomains; an IP address or a CIDR block; any of those with
    `:port`."""
    host = host.strip("[]").lower().rstrip(".")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        if _matches(host, entry):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        address, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return address, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        return name, int(port) if port.isdigit() else None
    return entry, None


def _matches(host: str, entry: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        try:
            return address in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    domain = entry.lstrip("*").lstrip(".").rstrip(".")
    return bool(domain) and (host == domain or host.endswith("." + domain))


def choose_route(
    scheme: str,
    host: str,
    port: int,
    *,
    proxy: str | None = None,
    unix_socket: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Route:
    """The route to `scheme://host:port`: a unix socket wins, then `proxy`, then the
    environment; NO_PROXY exempts a host from either proxy (as curl applies it to -x too)."""
    if unix_socket is not None:
        return Route(unix_socket=unix_socket)
    env = os.environ if environ is None else environ
    chosen = parse_proxy(proxy) if proxy is not None else proxy_from_env(scheme, env)
    if chosen is None:
        return DIRECT
    no_proxy = _env(env, "no_proxy")
    if no_proxy is not None and bypasses_proxy(host, port, no_proxy[1]):
        return DIRECT
    return Route(proxy=chosen)


class Routed(Protocol):
    @property
    def route(self) -> Route: ...


def used_proxy(runners: Iterable[Routed]) -> str | None:
    """The first proxy the runners use (its URL without credentials), for snapshots."""
    return next((r.route.proxy.display for r in runners if r.route.proxy is not None), None)


def used_unix_socket(runners: Iterable[Routed]) -> str | None:
    return next((r.route.unix_socket for r in runners if r.route.unix_socket is not None), None)
