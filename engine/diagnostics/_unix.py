"""The kernel's view of unix stream sockets at a path (`--unix-socket`): `ss -x src PATH`.

A unix socket's client end carries no name; the server's accepted ends carry the path they were
accepted on. Each connection is therefore counted once, at the server's end, as established.
Unix sockets have no TIME_WAIT: a closed connection is gone.
"""

from __future__ import annotations

import os
from dataclasses import replace

from ..metrics import SocketCounts
from ._view import SessionView
from .kernel import KernelSample

_STREAM = "0001"
_CONNECTED = "03"  # SS_CONNECTED
_CONNECTING = "02"  # SS_CONNECTING


def unix_label(path: str) -> str:
    return f"unix:{path}"


def unix_stream_counts(path: str, proc_root: str = "/proc") -> SocketCounts:
    """Connections accepted on the unix socket at `path` (the listener itself not counted)."""
    established = other = 0
    wanted = os.path.abspath(path)
    try:
        with open(os.path.join(proc_root, "net/unix")) as table:
            next(table, None)
            for line in table:
                fields = line.split()
                if len(fields) < 8 or fields[4] != _STREAM:
                    continue
                if os.path.abspath(fields[7]) != wanted:
                    continue
                if fields[5] == _CONNECTED:
                    established += 1
                elif fields[5] == _CONNECTING:
                    other += 1
    except OSError:
        return SocketCounts()
    return SocketCounts(established=established, other=other)


def unix_paths(session: SessionView) -> list[str]:
    """The unix sockets the session's runners connect over, once each."""
    paths = (runner.route.unix_socket for runner in session.runners.values())
    return list(dict.fromkeys(path for path in paths if path is not None))


def with_unix_sockets(sample: KernelSample, paths: list[str], proc_root: str) -> KernelSample:
    """`sample` with a row per unix socket path, added to the total."""
    rows = tuple((unix_label(path), unix_stream_counts(path, proc_root)) for path in paths)
    total = sample.total
    for _, counts in rows:
        total = SocketCounts(
            established=total.established + counts.established,
            time_wait=total.time_wait,
            close_wait=total.close_wait,
            syn_sent=total.syn_sent,
            other=total.other + counts.other,
        )
    return replace(sample, targets=sample.targets + rows, total=total)
