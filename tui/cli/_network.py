"""How the load reaches its targets: `--proxy URL` (oha's -x), HTTP_PROXY / HTTPS_PROXY /
ALL_PROXY / NO_PROXY from the environment, and `--unix-socket PATH` (curl's and oha's name)."""

from __future__ import annotations

import argparse
import os
import stat

from ...engine import SessionConfig
from ._errors import UsageError

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def add_network_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "-x",
        "--proxy",
        default=None,
        metavar="URL",
        help="send every request through this HTTP proxy, http://[user:pass@]host:port "
        "(plain HTTP is forwarded, https and h2c tunnel with CONNECT); without it "
        "HTTP_PROXY, HTTPS_PROXY and ALL_PROXY apply, and NO_PROXY exempts hosts from both",
    )
    group.add_argument(
        "--unix-socket",
        default=None,
        metavar="PATH",
        help="send every request over this unix socket, whatever the URL's host; the Host "
        "header still comes from the URL",
    )


def apply_network_options(
    config: SessionConfig, proxy: str | None = None, unix_socket: str | None = None
) -> None:
    """Check the proxy settings (flag and environment) and the socket; set them on `config`."""
    from ...engine.transport import parse_proxy  # the engine only when a run is planned

    check_proxy_environment()
    if proxy is not None:
        try:
            parse_proxy(proxy)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if unix_socket is not None:
        check_unix_socket(unix_socket)
        if proxy is not None:
            raise UsageError("--unix-socket and --proxy cannot both be given")
    config.proxy = proxy
    config.unix_socket = unix_socket


def check_proxy_environment() -> None:
    """A malformed proxy variable is bad input before any load, not an error per request."""
    from ...engine.transport import parse_proxy

    for name in PROXY_VARIABLES:
        for key in (name, name.upper()):
            value = os.environ.get(key, "").strip()
            if value:
                try:
                    parse_proxy(value, key)
                except ValueError as exc:
                    raise UsageError(str(exc)) from None


def check_unix_socket(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UsageError(f"--unix-socket {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--unix-socket {path}: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"--unix-socket {path}: not a socket")
