"""The kernel's view of TCP sockets: counts by state for target host:port pairs, both ends.
A public module on its own (`loadscope watch` and the console's watch view use it without a
session); `KernelExtension` (in `_extensions`) brings it into a session.

    watcher = SocketWatcher.for_address("127.0.0.1:8080")  # or ":8080" for any address
    sample = watcher.poll()  # about once a second; it blocks for the read (use a thread)
    sample.counts.time_wait, sample.new_connections, sample.total_new

`KernelView` counts sockets by state for several endpoints at once (what sessions use).

A socket counts for a target when its remote end is the target (this machine's client side) or
its local end is (the server's side, when the target runs here: after a clean close the TIME_WAIT
often sits there). That is what `ss -tan '( sport = :PORT or dport = :PORT )'` counts.

Two sources give the same counts. sock_diag netlink, what `ss` uses, lets the kernel filter by
address and port, so a sample costs in proportion to the targets' sockets. /proc/net/tcp and
/proc/net/tcp6 are the fallback: there the kernel formats every socket of the namespace as text
first. Measured with 24k TIME_WAIT sockets on one target (2 vCPUs): netlink 21 ms of CPU a
sample (10 of them in the kernel), /proc 58 ms; with those sockets on another port, netlink
4 ms and /proc still 57 ms.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import os
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..metrics import SocketCounts

if sys.platform != "win32":
    import resource

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
]


class TcpState(enum.IntEnum):
    """Linux's TCP states, as numbered in /proc/net/tcp and sock_diag."""

    ESTABLISHED = 1
    SYN_SENT = 2
    SYN_RECV = 3
    FIN_WAIT1 = 4
    FIN_WAIT2 = 5
    TIME_WAIT = 6
    CLOSE = 7
    CLOSE_WAIT = 8
    LAST_ACK = 9
    LISTEN = 10
    CLOSING = 11
    NEW_SYN_RECV = 12


class Source(enum.StrEnum):
    AUTO = "auto"
    NETLINK = "netlink"
    PROC = "proc"


# A counts row: established, time_wait, close_wait, syn_sent, other. Listening sockets are skipped.
_COLUMNS = 5
_SKIP = -1
_NAMED_COLUMNS: dict[int, int] = {
    TcpState.ESTABLISHED: 0,
    TcpState.TIME_WAIT: 1,
    TcpState.CLOSE_WAIT: 2,
    TcpState.SYN_SENT: 3,
}
_OTHER = 4


def _column(state: int) -> int:
    if state in (0, TcpState.LISTEN):
        return _SKIP
    return _NAMED_COLUMNS.get(state, _OTHER)


_STATE_COLUMN = tuple(_column(state) for state in range(256))


# -- endpoints -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Endpoint:
    """A TCP address to count sockets for. `host` is an IP address; None matches any address."""

    host: str | None
    port: int
    label: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"invalid port {self.port}")
        if self.host is not None:
            object.__setattr__(self, "host", str(ipaddress.ip_address(self.host)))
        if not self.label:
            object.__setattr__(self, "label", format_address(self.host, self.port))

    @property
    def packed(self) -> bytes:
        return ipaddress.ip_address(self.host).packed if self.host is not None else b""


def format_address(host: str | None, port: int) -> str:
    if host is None:
        return f"*:{port}"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str) -> tuple[str | None, int]:
    """`127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`, `:8080` or `*:8080` -> (host, port)."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r}: port {port_text!r} is not a number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: port {port} is out of range")
    return (host if host not in ("", "*") else None), port


def endpoints_for(host: str | None, port: int, label: str = "") -> list[Endpoint]:
    """Every address `host` resolves to (blocking for a name; at once for an address)."""
    label = label or format_address(host, port)
    if host is None:
        return [Endpoint(None, port, label)]
    try:
        return [Endpoint(host, port, label)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    hosts = dict.fromkeys(str(info[4][0]).partition("%")[0] for info in infos)
    return [Endpoint(address, port, label) for address in hosts]


# -- socket identity -----------------------------------------------------------------------------
SideKey = tuple[bytes, bytes, bool]  # (client end, server end, is it the server's socket)
# (identity, TIME_WAIT expiry): sock_diag's cookie, which a socket keeps into TIME_WAIT; in /proc
# a live socket's inode, and for a TIME_WAIT (inode 0) the monotonic time its timer runs out.
SocketId = tuple[bytes, float]
_UNTRACKED_STATES = frozenset({TcpState.SYN_RECV, TcpState.NEW_SYN_RECV})  # not a socket yet


def same_socket(before: SocketId, now: SocketId) -> bool:
    identity, expires = now
    if identity:
        return identity == before[0]
    if before[0]:
        return True  # it was live at the previous sample and has closed since
    return abs(expires - before[1]) <= 1.0


# -- samples -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KernelSample:
    """One reading of the socket tables and of this process's limits."""

    targets: tuple[tuple[str, SocketCounts], ...]
    total: SocketCounts
    # Ports of the ephemeral range that this machine's sockets to a target hold (TIME_WAIT too),
    # for the busiest target: connect() runs out of them per destination, not overall.
    ephemeral_in_use: int
    ephemeral_range: tuple[int, int]
    fds_open: int
    fds_limit: int
    source: str
    cost_ms: float  # CPU time of the read, kernel included (not the wait for the GIL)
    taken_at: float  # time.monotonic()
    # With tracking: (client end, server end, is the server's side) -> that socket's identity.
    connections: dict[SideKey, SocketId] | None = field(default=None, repr=False, compare=False)

    @property
    def ephemeral_size(self) -> int:
        low, high = self.ephemeral_range
        return high - low + 1 if high >= low > 0 else 0


class _Tally:
    __slots__ = ("connections", "counts", "ephemeral", "own_ports", "port_range")

    def __init__(
        self, labels: int, port_range: tuple[int, int], track: bool, own_ports: bytes | None
    ) -> None:
        self.counts = [[0] * _COLUMNS for _ in range(labels)]
        self.ephemeral = [0] * labels  # client sockets to the target on a port of the range
        self.port_range = port_range
        self.connections: dict[SideKey, SocketId] | None = {} if track else None
        # Count only connections whose client end has a port marked here (None: every one).
        self.own_ports = own_ports


_NO_MATCH = -1
_ANY_HOST = b"*"


def _add_end(by_port: dict[bytes, dict[bytes, int]], port: bytes, host: bytes, index: int) -> None:
    by_port.setdefault(port, {})[host] = index


# -- netlink -------------------------------------------------------------------------------------
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_INET_DIAG_REQ_BYTECODE = 1
_BC_JMP = 1
_BC_S_COND = 7
_BC_D_COND = 8
_EVERY_STATE_BUT_LISTEN = ((1 << 13) - 1) & ~1 & ~(1 << TcpState.LISTEN)
_HEADER = struct.Struct("=IH")  # nlmsghdr: length, type
# nlmsghdr, then inet_diag_msg up to its addresses: state, sport, dport, src, dst.
_MESSAGE = struct.Struct("=IH11xB2x2s2s16s16s")
_MAPPED_V4 = bytes(10) + b"\xff\xff"
_RECV_SIZE = 1 << 16


def _netlink_address(family: int, packed: bytes) -> bytes:
    """An address as sock_diag reports it: 16 bytes, an IPv4 one zero-padded."""
    return packed if family == socket.AF_INET6 else packed + bytes(12)


def _netlink_normal(address: bytes) -> bytes:
    """IPv4-mapped IPv6 as plain IPv4, so both ends of a loopback connection agree."""
    return address[12:] + bytes(12) if address[:12] == _MAPPED_V4 else address


def _bytecode(endpoints: Sequence[Endpoint]) -> bytes:
    """A sock_diag filter: keep a socket whose remote or local end is one of the endpoints.

    The kernel accepts when a program runs exactly off its end and rejects when a jump
    overshoots it. Each condition jumps on a match to a JMP that lands on the end, and on a
    miss to the next condition; the last op rejects whatever reaches it.
    """
    conditions = []
    for endpoint in endpoints:
        packed = endpoint.packed
        family = {0: socket.AF_UNSPEC, 4: socket.AF_INET, 16: socket.AF_INET6}[len(packed)]
        hostcond = struct.pack("=BBxxi", family, len(packed) * 8, endpoint.port) + packed
        conditions += [(_BC_D_COND, hostcond), (_BC_S_COND, hostcond)]
    size = sum(4 + len(cond) + 4 for _, cond in conditions) + 4
    program = bytearray()
    for code, cond in conditions:
        op_size = 4 + len(cond)
        program += struct.pack("=BBH", code, op_size, op_size + 4) + cond
        program += struct.pack("=BBH", _BC_JMP, 4, size - len(program))
    program += struct.pack("=BBH", _BC_JMP, 4, 8)
    return bytes(program)


class _NetlinkSource:
    name = Source.NETLINK

    def __init__(self, endpoints: Sequence[Endpoint], label_index: dict[str, int]) -> None:
        # Port (2 bytes, big-endian) -> address (16 bytes, or _ANY_HOST) -> label index.
        self._by_port: dict[bytes, dict[bytes, int]] = {}
        for endpoint in endpoints:
            index = label_index[endpoint.label]
            port = endpoint.port.to_bytes(2, "big")
            packed = endpoint.packed
            if not packed:
                _add_end(self._by_port, port, _ANY_HOST, index)
            elif len(packed) == 4:
                _add_end(self._by_port, port, _netlink_address(socket.AF_INET, packed), index)
                _add_end(self._by_port, port, _MAPPED_V4 + packed, index)
            else:
                _add_end(self._by_port, port, packed, index)
        bytecode = _bytecode(endpoints)
        self._requests = [self._request(family, bytecode) for family in _families(endpoints)]

    @staticmethod
    def _request(family: int, bytecode: bytes) -> bytes:
        body = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, _EVERY_STATE_BUT_LISTEN)
        body += bytes(48)  # inet_diag_sockid: no exact-socket lookup
        body += struct.pack("=HH", 4 + len(bytecode), _INET_DIAG_REQ_BYTECODE) + bytecode
        header = struct.pack(
            "=IHHII", 16 + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0
        )
        return header + body

    def scan(self, tally: _Tally) -> None:
        for request in self._requests:
            with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as sock:
                sock.settimeout(5.0)
                sock.send(request)
                while not self._parse(sock.recv(_RECV_SIZE), tally):
                    pass

    def _parse(self, buf: bytes, tally: _Tally) -> bool:
        """Fold one datagram of sock_diag messages into the tally; True at the end of the dump.

        The hot loop of a sample under churn: once per socket of the targets, about 0.4 µs.
        """
        counts, ephemeral, connections = tally.counts, tally.ephemeral, tally.connections
        low, high = tally.port_range
        own = tally.own_ports
        by_port = self._by_port
        offset, end = 0, len(buf)
        while offset + 16 <= end:
            if end - offset < _MESSAGE.size:
                length, kind = _HEADER.unpack_from(buf, offset)
            else:
                length, kind, state, src_port, dst_port, src, dst = _MESSAGE.unpack_from(
                    buf, offset
                )
            if length < 16 or offset + length > end:
                raise OSError("sock_diag: malformed message")
            if kind == _SOCK_DIAG_BY_FAMILY and length >= _MESSAGE.size:
                column = _STATE_COLUMN[state]
                if column != _SKIP:
                    server_side = False
                    index = _NO_MATCH
                    hosts = by_port.get(dst_port)  # is the remote end a target?
                    if hosts is not None:
                        index = hosts.get(dst, hosts.get(_ANY_HOST, _NO_MATCH))
                    if index == _NO_MATCH:
                        server_side = True
                        hosts = by_port.get(src_port)
                        if hosts is not None:
                            index = hosts.get(src, hosts.get(_ANY_HOST, _NO_MATCH))
                    if index != _NO_MATCH:
                        if not server_side and low <= int.from_bytes(src_port) <= high:
                            ephemeral[index] += 1
                        client_port = dst_port if server_side else src_port
                        if own is not None and not own[int.from_bytes(client_port)]:
                            index = _NO_MATCH  # another client's socket
                    if index != _NO_MATCH:
                        counts[index][column] += 1
                        if connections is not None and state not in _UNTRACKED_STATES:
                            mine = src_port + _netlink_normal(src)
                            theirs = dst_port + _netlink_normal(dst)
                            key = (theirs, mine, True) if server_side else (mine, theirs, False)
                            connections[key] = (buf[offset + 60 : offset + 68], 0.0)  # the cookie
            elif kind == _NLMSG_DONE:
                return True
            elif kind == _NLMSG_ERROR:
                errno = -struct.unpack_from("=i", buf, offset + 16)[0]
                raise OSError(errno, f"sock_diag: {os.strerror(errno)}")
            offset += (length + 3) & ~3
        return False


def _families(endpoints: Sequence[Endpoint]) -> list[int]:
    """IPv4 targets show up in both tables: tcp6 holds dual-stack sockets with mapped addresses."""
    if not endpoints:
        return []
    if all(len(e.packed) == 16 for e in endpoints):
        return [socket.AF_INET6]
    return [socket.AF_INET, socket.AF_INET6]


# -- /proc/net/tcp -------------------------------------------------------------------------------
# "  12: 0100007F:1F90 0100007F:C350 01 ...": the local and remote ends, then the state.
_PROC_END = rb"([0-9A-F]{8,32}:[0-9A-F]{4})"
_PROC_ROW = re.compile(rb": " + _PROC_END + rb" " + _PROC_END + rb" ([0-9A-F]{2}) ")
# With tracking, also the timer (a TIME_WAIT's time left, in clock ticks) and the inode.
_PROC_TRACKED_ROW = re.compile(
    _PROC_ROW.pattern
    + rb"[0-9A-F]{8}:[0-9A-F]{8} [0-9A-F]{2}:([0-9A-F]{8}) [0-9A-F]{8} +\d+ +-?\d+ (\d+) "
)
_PROC_MAPPED_V4 = b"0000000000000000FFFF0000"
_PROC_STATE_COLUMN = {b"%02X" % state: _STATE_COLUMN[state] for state in range(256)}
_PROC_UNTRACKED_STATES = frozenset(b"%02X" % state for state in _UNTRACKED_STATES)
_PROC_TIME_WAIT = b"%02X" % TcpState.TIME_WAIT


def _proc_address(packed: bytes) -> bytes:
    """How /proc/net/tcp spells an address: 32-bit words in host byte order, as hex."""
    words = struct.unpack(f"={len(packed) // 4}I", packed)
    return b"".join(b"%08X" % word for word in words)


def _proc_normal(end: bytes) -> bytes:
    return end[24:] if end.startswith(_PROC_MAPPED_V4) else end


def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 100


class _ProcSource:
    name = Source.PROC
    tables = ("net/tcp", "net/tcp6")

    def __init__(
        self, endpoints: Sequence[Endpoint], label_index: dict[str, int], proc_root: str
    ) -> None:
        self._root = proc_root
        self._tick = 1.0 / _clock_ticks()
        self._exact: dict[bytes, int] = {}  # "ADDRESS:PORT" as /proc spells it -> label index
        self._any_host: dict[bytes, int] = {}  # "PORT" -> label index, for endpoints without one
        for endpoint in endpoints:
            index = label_index[endpoint.label]
            port = b"%04X" % endpoint.port
            if endpoint.host is None:
                self._any_host[port] = index
                continue
            address = _proc_address(endpoint.packed)
            self._exact[address + b":" + port] = index
            if len(endpoint.packed) == 4:
                self._exact[_PROC_MAPPED_V4 + address + b":" + port] = index

    def scan(self, tally: _Tally) -> None:
        found = False
        for table in self.tables:
            try:
                with open(os.path.join(self._root, table), "rb") as file:
                    text = file.read()
            except FileNotFoundError:
                continue  # no IPv6 in this kernel
            found = True
            if tally.connections is None:
                self._count(text, tally)
            else:
                self._track(text, tally, tally.connections)
        if not found:
            raise OSError(f"no {self._root}/net/tcp")

    def _match(self, local: bytes, remote: bytes) -> tuple[int | None, bool]:
        """(label index, is it the server's socket) of a row; (None, _) when no target's."""
        exact, any_host = self._exact, self._any_host
        index = exact.get(remote)
        if index is None and any_host:
            index = any_host.get(remote[-4:])
        if index is not None:
            return index, False
        index = exact.get(local)
        if index is None and any_host:
            index = any_host.get(local[-4:])
        return index, True

    def _count(self, text: bytes, tally: _Tally) -> None:
        counts, ephemeral, columns = tally.counts, tally.ephemeral, _PROC_STATE_COLUMN
        low, high = tally.port_range
        own = tally.own_ports
        match = self._match
        for local, remote, state in _PROC_ROW.findall(text):
            column = columns[state]
            if column == _SKIP:
                continue
            index, server_side = match(local, remote)
            if index is None:
                continue
            if not server_side and low <= int(local[-4:], 16) <= high:
                ephemeral[index] += 1
            if own is not None and not own[int((remote if server_side else local)[-4:], 16)]:
                continue  # another client's socket
            counts[index][column] += 1

    def _track(self, text: bytes, tally: _Tally, connections: dict[SideKey, SocketId]) -> None:
        counts, ephemeral, columns = tally.counts, tally.ephemeral, _PROC_STATE_COLUMN
        low, high = tally.port_range
        own = tally.own_ports
        now = time.monotonic()
        for local, remote, state, timer, inode in _PROC_TRACKED_ROW.findall(text):
            column = columns[state]
            if column == _SKIP:
                continue
            index, server_side = self._match(local, remote)
            if index is None:
                continue
            if not server_side and low <= int(local[-4:], 16) <= high:
                ephemeral[index] += 1
            if own is not None and not own[int((remote if server_side else local)[-4:], 16)]:
                continue  # another client's socket
            counts[index][column] += 1
            if state in _PROC_UNTRACKED_STATES:
                continue
            mine, theirs = _proc_normal(local), _proc_normal(remote)
            key = (theirs, mine, True) if server_side else (mine, theirs, False)
            expires = now + int(timer, 16) * self._tick if state == _PROC_TIME_WAIT else 0.0
            connections[key] = (inode if inode != b"0" else b"", expires)


# -- limits --------------------------------------------------------------------------------------
def read_port_range(proc_root: str = "/proc") -> tuple[int, int]:
    """`net.ipv4.ip_local_port_range`; (0, 0) when unknown."""
    try:
        with open(os.path.join(proc_root, "sys/net/ipv4/ip_local_port_range")) as file:
            low, high = (int(part) for part in file.read().split()[:2])
    except (OSError, ValueError):
        return (0, 0)
    return (low, high)


def open_fds(proc_root: str = "/proc") -> int:
    """File descriptors this process holds; 0 when unknown."""
    path = os.path.join(proc_root, "self/fd")
    if proc_root == "/proc":
        # Linux 6.2+ gives the count as the directory's size: 50 µs where listing 10,000
        # descriptors takes 15-30 ms (and the GIL, from the loop). Older kernels say 0.
        with contextlib.suppress(OSError):
            size = os.stat(path).st_size
            if size > 0:
                return size
    try:
        names = os.listdir(path)
    except OSError:
        return 0
    return max(0, len(names) - 1)  # not the listing's own


def fd_limit() -> int:
    """The soft RLIMIT_NOFILE; 0 when unlimited or unknown."""
    if sys.platform == "win32":  # pragma: no cover - not POSIX
        return 0
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 0 if soft == resource.RLIM_INFINITY else int(soft)


# -- the view ------------------------------------------------------------------------------------
class KernelView:
    """Reads the socket tables for some endpoints. `sample()` blocks for the read: from async
    code, call it in a thread. It returns None when no source works here (no /proc, no netlink).
    """

    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        *,
        track_connections: bool = False,
        source: Source | str = Source.AUTO,
        proc_root: str = "/proc",
    ) -> None:
        self.endpoints = tuple(dict.fromkeys(endpoints))
        self.labels = tuple(dict.fromkeys(e.label for e in self.endpoints))
        self.track_connections = track_connections
        self.proc_root = proc_root
        self.port_range = read_port_range(proc_root)
        index = {label: i for i, label in enumerate(self.labels)}
        source = Source(source)
        self._sources: list[_NetlinkSource | _ProcSource] = []
        if source is not Source.PROC and proc_root == "/proc" and hasattr(socket, "AF_NETLINK"):
            self._sources.append(_NetlinkSource(self.endpoints, index))
        if source is not Source.NETLINK:
            self._sources.append(_ProcSource(self.endpoints, index, proc_root))

    @property
    def source(self) -> str | None:
        """The source in use: the first that has not failed."""
        return self._sources[0].name.value if self._sources else None

    def sample(self, own_ports: bytes | None = None) -> KernelSample | None:
        """With `own_ports` (a byte per port, non-zero for a port of ours), the counts and the
        tracked connections are only those whose client end has one of those ports (both ends
        still count); `ephemeral_in_use` always counts every client: the ports are shared."""
        started = time.thread_time()
        while self._sources:
            source = self._sources[0]
            tally = _Tally(len(self.labels), self.port_range, self.track_connections, own_ports)
            try:
                source.scan(tally)
            except OSError:
                self._sources.pop(0)  # unavailable here (or refused): fall back for good
                continue
            return self._finish(tally, source.name.value, started)
        return None

    def _finish(self, tally: _Tally, source: str, started: float) -> KernelSample:
        rows = tally.counts
        targets = tuple(
            (label, SocketCounts(*row)) for label, row in zip(self.labels, rows, strict=True)
        )
        total = SocketCounts(*(sum(row[i] for row in rows) for i in range(_COLUMNS)))
        return KernelSample(
            targets=targets,
            total=total,
            ephemeral_in_use=max(tally.ephemeral, default=0),
            ephemeral_range=self.port_range,
            fds_open=open_fds(self.proc_root),
            fds_limit=fd_limit(),
            source=source,
            cost_ms=round((time.thread_time() - started) * 1000, 3),
            taken_at=time.monotonic(),
            connections=tally.connections,
        )


# -- watching a port -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WatchSample:
    """One poll of a `SocketWatcher`."""

    elapsed_s: float  # since the first poll
    counts: SocketCounts  # both ends
    new_connections: int | None  # first seen since the previous poll; None on the first poll
    new_per_second: float | None
    total_new: int
    time_wait_peak: int
    ephemeral_in_use: int
    ephemeral_range: tuple[int, int]
    source: str


LOOKS_PER_SECOND = 4  # reads a second in `loadscope watch` (see SocketWatcher)


class SocketWatcher:
    """The kernel view of one address with no load of our own: `loadscope watch`.

    New connections are told from changes between two reads: a connection none of whose sockets
    was there at the previous read is new (sockets are told apart by sock_diag's cookie; in /proc
    by inode, and a TIME_WAIT by its timer). So a connection that opened and closed between reads
    counts through the TIME_WAIT it left, and so does one that took over an old TIME_WAIT's
    addresses, as loopback connections often do under churn. A 4-tuple taken over twice between
    two reads counts once, so `look()` reads LOOKS_PER_SECOND times a second between the
    once-a-second `poll()`s: at 1 read a second a check here counted 90% of the connections the
    client opened, at 4 all of them. Both block for the read: call them from a thread in async
    code (they may overlap: a lock keeps the reads in turn).
    """

    def __init__(
        self, endpoints: Sequence[Endpoint], *, source: Source | str = Source.AUTO
    ) -> None:
        self.view = KernelView(endpoints, track_connections=True, source=source)
        self.label = self.view.labels[0] if self.view.labels else ""
        self._previous: dict[SideKey, SocketId] | None = None
        self._previous_source = ""
        self._started = 0.0
        self._last = 0.0
        self._new_since_poll: int | None = None  # None: nothing compared since the last poll
        self._lock = threading.Lock()
        self.total_new = 0
        self.time_wait_peak = 0

    @classmethod
    def for_address(cls, address: str, *, source: Source | str = Source.AUTO) -> SocketWatcher:
        """`HOST:PORT` (a name is resolved now, to every address it has)."""
        host, port = parse_address(address)
        return cls(endpoints_for(host, port), source=source)

    def look(self) -> KernelSample | None:
        """One read between polls: the connections new since the last read count towards the
        next poll's second."""
        with self._lock:
            return self._read()

    def poll(self) -> WatchSample | None:
        """One read, and the second since the last poll: new connections (None on the first
        poll) and the sockets by state now."""
        with self._lock:
            sample = self._read()
            if sample is None:
                return None
            now = time.monotonic()
            new, self._new_since_poll = self._new_since_poll, None
            rate = round(new / max(now - self._last, 1e-3), 1) if new is not None else None
            self.total_new += new or 0
            self._last = now
        return WatchSample(
            elapsed_s=round(now - self._started, 3),
            counts=sample.total,
            new_connections=new,
            new_per_second=rate,
            total_new=self.total_new,
            time_wait_peak=self.time_wait_peak,
            ephemeral_in_use=sample.ephemeral_in_use,
            ephemeral_range=sample.ephemeral_range,
            source=sample.source,
        )

    def _read(self) -> KernelSample | None:
        sample = self.view.sample()
        if sample is None:
            return None
        current = sample.connections or {}
        if self._previous is None:
            self._started = self._last = time.monotonic()
        elif sample.source == self._previous_source:  # identities compare within one source
            new = new_connections(self._previous, current)
            self._new_since_poll = (self._new_since_poll or 0) + new
        self._previous, self._previous_source = current, sample.source
        self.time_wait_peak = max(self.time_wait_peak, sample.total.time_wait)
        return sample


def new_connections(before: dict[SideKey, SocketId], now: dict[SideKey, SocketId]) -> int:
    """Connections in `now` none of whose sockets was there `before`."""
    continued: set[tuple[bytes, bytes]] = set()
    seen: set[tuple[bytes, bytes]] = set()
    for key, identity in now.items():
        pair = key[:2]
        seen.add(pair)
        previous = before.get(key)
        if previous is not None and same_socket(previous, identity):
            continued.add(pair)
    return len(seen - continued)
