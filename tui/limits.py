"""How many virtual users this machine can hold: one function for `-c`, `--max-vus`, stages
and the console's `c` dialog. Each busy VU holds a socket (an open file) and, to one target,
a local port of the ephemeral range."""

from __future__ import annotations

import contextlib
from pathlib import Path

FD_HEADROOM = 64  # the engine's own files, sockets to the console, the kernel view
PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def vu_limit_problem(vus: int, *, raise_soft_limit: bool = True) -> str:
    """Why `vus` VUs cannot run here ("" when they can). With `raise_soft_limit`, first raise
    the soft open-file limit towards what they need (inherited by processes started after)."""
    return _open_files_problem(vus, raise_soft_limit) or _ports_problem(vus)


def _open_files_problem(vus: int, raise_soft_limit: bool) -> str:
    try:
        import resource
    except ImportError:  # not on this platform: the first failed connect will say it
        return ""
    needed = vus + FD_HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return ""
    ceiling = soft
    if raise_soft_limit:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            ceiling = wanted
        except (ValueError, OSError):
            pass
    if ceiling >= needed:
        return ""
    return f"need about {needed:,} open files but this process may open {ceiling:,} (ulimit -n)"


def _ports_problem(vus: int) -> str:
    try:
        low, high = (int(part) for part in PORT_RANGE.read_text().split())
    except (OSError, ValueError):  # not Linux, or no /proc: nothing to say
        return ""
    ports = high - low + 1
    if vus <= ports:
        return ""
    return (
        f"need up to {vus:,} connections to the target but the ephemeral port range holds "
        f"{ports:,} ports (net.ipv4.ip_local_port_range {low}-{high})"
    )


def vu_limit_reason(vus: float) -> str:
    """The console's `c` dialog: why `vus` VUs are refused, with the limits as they are now
    (the engine process inherited them when it started)."""
    problem = vu_limit_problem(int(vus), raise_soft_limit=False)
    return f"{int(vus):,} VUs {problem}" if problem else ""


def raise_open_files_limit() -> None:
    """The console may grow the load to the hard limit: lift the soft one before the engine
    process starts, so it inherits it."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        # some systems refuse RLIM_INFINITY as a soft limit: then the soft one stays
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
