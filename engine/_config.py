"""Session and runner configuration: plain, typed, validated once when a session is built."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ReuseMode(enum.StrEnum):
    """How virtual users share connections."""

    SHARED = "shared"  # one pool per runner, used by every VU
    PER_VU = "per-vu"  # each VU keeps its own connections for its whole life (k6)
    PER_ITERATION = "per-iteration"  # a VU's connections close after every iteration (runn loadt)
    NONE = "none"  # a new connection per request, no keep-alive

    def next(self) -> ReuseMode:
        members = list(ReuseMode)
        return members[(members.index(self) + 1) % len(members)]


class State(enum.StrEnum):
    """Where a session is in its life."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"


class HttpVersion(enum.StrEnum):
    AUTO = "auto"  # TLS: ALPN offers h2 and http/1.1 and the server chooses; plain http: HTTP/1.1
    HTTP1 = "http1"
    HTTP2 = "http2"  # h2 over TLS; h2c with prior knowledge on http://
    HTTP3 = "http3"  # QUIC on UDP (https:// only); ALPN h3

    def describe(self, in_use: str = "") -> str:
        """As every view words the setting: `auto (1.1)` when negotiated (`in_use`: what the
        latest response used), `1.1 forced` or `2 forced` when set by `h` or a flag."""
        if self is HttpVersion.AUTO:
            version = in_use.removeprefix("HTTP/")
            return f"auto ({version})" if version else "auto"
        return {HttpVersion.HTTP1: "1.1", HttpVersion.HTTP2: "2"}.get(self, "3") + " forced"


class RetireAt(enum.StrEnum):
    """When a VU removed by `set_concurrency` stops."""

    REQUEST = "request"
    ITERATION = "iteration"


class CloseReason(enum.StrEnum):
    POOL_SHRINK = "pool_shrink"
    KEEPALIVE_EXPIRY = "keepalive_expiry"
    PEER_CLOSED = "peer_closed"
    CONNECTION_RESET = "connection_reset"  # the server reset the connection (RST)
    CONNECTION_CLOSE = "connection_close"  # the server answered `Connection: close`
    GOAWAY = "goaway"
    ERROR = "error"
    SESSION_END = "session_end"
    ITERATION_END = "iteration_end"  # reuse mode per-iteration
    NO_REUSE = "no_reuse"  # reuse mode none
    MODE_SWITCH = "mode_switch"  # reuse mode or HTTP version changed while running


@dataclass(frozen=True, slots=True)
class Stage:
    """Ramp linearly to `target` over `duration` seconds (VUs, or iterations/s in open mode)."""

    duration: float
    target: float


DEFAULT_MAX_HEADER_SIZE = 1_048_576  # 1 MiB (Go's net/http allows 10 MB)


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """One target a scenario talks to (a runbook's runner, or the URL's origin) and its settings."""

    name: str
    base_url: str
    timeout: float | None = None  # None: the session's timeout
    skip_verify: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    use_cookie: bool = False
    follow_redirects: bool = True
    # The name TLS sends (SNI) and verifies the certificate against, when the URL's host is an
    # address that stands in for it (runn's hostRules); None: the URL's host.
    tls_server_name: str | None = None
    # An http:// proxy for this runner's connections (`--proxy`); None: the session's, else
    # HTTP_PROXY / HTTPS_PROXY / ALL_PROXY unless NO_PROXY exempts the host.
    proxy: str | None = None
    unix_socket: str | None = None  # every connection over this socket (`--unix-socket`)
    # A response's header block past this many bytes fails the request (`header_too_large`) and
    # closes the connection, so a server that sends endless header lines cannot exhaust memory.
    max_header_size: int = 1_048_576


@dataclass(slots=True)
class SessionConfig:
    """How a session runs: the load's shape and length, connection reuse, HTTP version, limits."""

    concurrency: int = 1
    duration: float | None = None  # None: until stopped
    warm_up: float = 0.0
    rate: float | None = None  # open model: iterations started per second
    max_vus: int | None = None  # open model: VU cap; None: max(concurrency, 100)
    max_iterations_per_second: float | None = None  # closed model cap (runn's --max-rps)
    stages: tuple[Stage, ...] = ()
    http_version: HttpVersion = HttpVersion.AUTO
    h2_connections: int = 1
    reuse_mode: ReuseMode = ReuseMode.SHARED
    timeout: float = 30.0
    connect_timeout: float = 10.0  # TCP connect plus the TLS handshake
    # Response bodies kept for the runbook's expressions stop here (error kind body_too_large);
    # bodies nothing reads are streamed and counted, never kept.
    max_body: int = 64 * 1024 * 1024
    max_iterations: int | None = None  # stop after this many iterations in total (--iterations)
    insecure: bool = False
    retire_at: RetireAt = RetireAt.ITERATION
    stop_grace: float = 5.0
    idle_timeout: float = 90.0  # keep-alive expiry of an idle pooled connection
    # Idle connections kept per origin. None sizes the pool to the concurrency (never closes one
    # a VU still needs); a number reproduces capped pools such as Go's default of 2.
    max_idle_per_origin: int | None = None
    window: float = 10.0  # seconds in the sliding latency window
    timeline_limit: int = 86_400  # per-second points kept in memory (24 h)
    headers: tuple[tuple[str, str], ...] = ()
    kernel_view: bool = True
    detectors: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    proxy: str | None = None  # `--proxy`: every runner's, unless its RunnerConfig names one
    unix_socket: str | None = None  # `--unix-socket`: every runner's connections go over it
    request_log: str | None = None  # `--log-requests FILE.sqlite`: every request, one row each
    # Requests one VU may have in flight at once, so pools keep that many connections per VU:
    # more than 1 when an iteration runs its runbooks side by side (runn's --concurrent N).
    requests_per_vu: int = 1

    @property
    def open_model(self) -> bool:
        return self.rate is not None

    def initial_pool_keep(self) -> int:
        """Idle connections kept per origin at the start: as many as requests can be in flight
        (the VU cap in the open model, where the rate decides how many VUs are busy)."""
        return self.pool_keep(self.effective_max_vus() if self.open_model else self.concurrency)

    def pool_keep(self, concurrency: int) -> int:
        keep = max(concurrency * self.requests_per_vu, 1)
        return min(keep, self.max_idle_per_origin) if self.max_idle_per_origin else keep

    def effective_max_vus(self) -> int:
        if self.max_vus is not None:
            return self.max_vus
        return max(self.concurrency, 100)
