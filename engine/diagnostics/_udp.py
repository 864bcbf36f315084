"""The kernel's view of HTTP/3's UDP sockets: `ss -u state established dst HOST:PORT`.

A QUIC connection of the engine is one connected UDP socket, so these counts are its QUIC
connections as the kernel sees them. UDP has no TIME_WAIT: a closed socket is gone at once.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from dataclasses import replace

from ..metrics import SocketCounts
from .kernel import KernelSample

_ESTABLISHED = "01"  # a connected UDP socket (connect() gave it a peer)
_LITTLE = struct.pack("=I", 1) == b"\x01\x00\x00\x00"


def udp_label(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"udp:{shown}:{port}"


def udp_socket_counts(host: str, port: int, proc_root: str = "/proc") -> SocketCounts:
    """Connected UDP sockets whose peer is `host:port` (an address), over IPv4 and IPv6."""
    wanted = (ipaddress.ip_address(host), port)
    connected = 0
    for table in ("net/udp", "net/udp6"):
        try:
            with open(os.path.join(proc_root, table)) as rows:
                next(rows, None)
                for line in rows:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == _ESTABLISHED:
                        connected += _peer(fields[2]) == wanted
        except OSError:
            continue
    return SocketCounts(established=connected)


def _peer(field: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int] | None:
    """/proc's `0100007F:20FB` (host byte order, per 32-bit word) -> (address, port)."""
    address_hex, _, port_hex = field.partition(":")
    try:
        raw = bytes.fromhex(address_hex)
        if _LITTLE:  # each 32-bit word was printed as a host-order number
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address, int(port_hex, 16)


def with_udp_sockets(
    sample: KernelSample, addresses: list[tuple[str, int]], proc_root: str
) -> KernelSample:
    """`sample` with a row per HTTP/3 target (its connected UDP sockets), added to the total."""
    rows = tuple(
        (udp_label(host, port), udp_socket_counts(host, port, proc_root))
        for host, port in addresses
    )
    established = sample.total.established + sum(counts.established for _, counts in rows)
    total = replace(sample.total, established=established)
    return replace(sample, targets=sample.targets + rows, total=total)
