"""The kernel's view of TCP sockets, on its own: `loadscope watch` and the console's watch view.

    watcher = SocketWatcher.for_address("127.0.0.1:8080")  # or ":8080" for any address
    sample = watcher.poll()  # about once a second; it blocks for the read (use a thread)
    sample.counts.time_wait, sample.new_connections, sample.total_new

`KernelView` counts sockets by state for several endpoints at once (what sessions use).
"""

from __future__ import annotations

from ..metrics import SocketCounts
from ._kernel import (
    Endpoint,
    KernelSample,
    KernelView,
    SocketWatcher,
    Source,
    TcpState,
    WatchSample,
    endpoints_for,
    fd_limit,
    format_address,
    open_fds,
    parse_address,
    read_port_range,
)
from ._unix import unix_stream_counts

__all__ = [
    "Endpoint",
    "KernelSample",
    "KernelView",
    "SocketCounts",
    "SocketWatcher",
    "Source",
    "TcpState",
    "WatchSample",
    "endpoints_for",
    "fd_limit",
    "format_address",
    "open_fds",
    "parse_address",
    "read_port_range",
    "unix_stream_counts",
]
