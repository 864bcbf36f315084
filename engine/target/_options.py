"""What a target serves and how: plain, picklable options, checked once when built."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass


class Listener(enum.StrEnum):
    HTTP = "http"  # HTTP/1.1, and HTTP/2 with prior knowledge (h2c) on the same port
    HTTPS = "https"  # TLS; ALPN chooses h2 or http/1.1
    HTTP3 = "http3"  # QUIC on UDP, ALPN h3
    UNIX = "unix"  # a unix stream socket speaking what the plain port speaks

    @property
    def slot(self) -> int:
        """This listener's place in the shared counters."""
        return list(Listener).index(self)


class PlainProtocols(enum.StrEnum):
    """What the plain (non-TLS) listener speaks."""

    BOTH = "both"  # HTTP/1.1 and h2c with prior knowledge, told apart by the first bytes
    HTTP1 = "http1"
    H2C = "h2c"  # HTTP/2 with prior knowledge only


@dataclass(frozen=True, slots=True)
class TargetOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port, reported back once listening
    tls: bool = False
    tls_port: int = 0
    plain: PlainProtocols = PlainProtocols.BOTH
    keepalive_timeout: float | None = None  # seconds idle before the server closes; None: never
    always_close: bool = False  # every response says `Connection: close` (HTTP/2: GOAWAY)
    workers: int = 1  # processes sharing the ports with SO_REUSEPORT
    max_concurrent_streams: int = 256  # HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
    # HTTP/3 (QUIC) on this UDP port; 0: the TLS listener's port number, as servers announce h3
    # on the port of their https (Alt-Svc), so one https:// URL reaches all three protocols.
    http3_port: int | None = None
    # HTTP/3: after this many requests on a QUIC connection, GOAWAY (then close once answered).
    http3_goaway_after: int | None = None
    backlog: int = 4096
    certfile: str | None = None  # None with tls: a self-signed certificate made at start
    keyfile: str | None = None
    unix_socket: str | None = None  # also listen on this unix socket path (worker 0 only)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", PlainProtocols(self.plain))  # also from its string
        if not _is_loopback(self.host):
            raise ValueError(f"the target listens on a loopback address only, not {self.host!r}")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.keepalive_timeout is not None and self.keepalive_timeout <= 0:
            raise ValueError("keepalive_timeout must be positive (or None)")
        if self.max_concurrent_streams < 1:
            raise ValueError("max_concurrent_streams must be at least 1")
        if self.http3_goaway_after is not None and self.http3_goaway_after < 1:
            raise ValueError("http3_goaway_after must be at least 1 (or None)")
        if self.http3_port is not None and not self.tls:
            raise ValueError("HTTP/3 needs tls (QUIC is always encrypted)")
        for port in (self.port, self.tls_port, self.http3_port or 0):
            if not 0 <= port <= 65535:
                raise ValueError(f"invalid port {port}")
        if self.unix_socket is not None and not self.unix_socket.strip():
            raise ValueError("the unix socket path is empty")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("certfile and keyfile go together")


def _is_loopback(host: str) -> bool:
    # An address, not a name: "localhost" may resolve to two sockets on two different free ports.
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
