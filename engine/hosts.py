"""Host names a load can be pointed at: an IP literal, or a DNS name whose labels are 1-63
characters and whose whole is at most 253. Anything longer cannot be resolved; checked at load,
it is bad input instead of a resolver error on every request."""

from __future__ import annotations

import ipaddress

MAX_NAME = 253
MAX_LABEL = 63


def host_problem(host: str) -> str:
    """Why `host` cannot be resolved ("" when it may be)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return ""
    name = host.rstrip(".")
    if len(name) > MAX_NAME:
        return f"the host name is {len(name):,} characters long; DNS allows {MAX_NAME}"
    if any(not 1 <= len(label) <= MAX_LABEL for label in name.split(".")):
        return f"a label of the host name is empty or longer than {MAX_LABEL} characters"
    return ""
