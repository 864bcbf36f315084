"""Error kinds: the engine maps every failure to one short, stable name for reports."""

from __future__ import annotations

import asyncio
import errno
import ssl

import httpx


class EngineError(Exception):
    """Base of the engine's own errors; `kind` is the stable name shown in reports."""

    kind = "error"


class ConnectError(EngineError, httpx.ConnectError):
    kind = "connect_error"

    def __init__(self, message: str, kind: str = "connect_error") -> None:
        super().__init__(message)
        self.kind = kind


class ConnectTimeout(EngineError, httpx.ConnectTimeout):
    kind = "connect_timeout"


class TLSError(EngineError, httpx.ConnectError):
    kind = "tls_error"

    def __init__(self, message: str, kind: str = "tls_error") -> None:
        super().__init__(message)
        self.kind = kind


class ReadTimeout(EngineError, httpx.ReadTimeout):
    kind = "timeout"


class PeerClosed(EngineError, httpx.RemoteProtocolError):
    """The server closed the connection before the response was complete."""

    kind = "peer_closed"

    def __init__(self, message: str, *, before_response: bool) -> None:
        super().__init__(message)
        self.before_response = before_response


class ConnectionReset(PeerClosed):
    """The server reset the connection (RST, ECONNRESET) rather than closing it cleanly."""

    kind = "connection_reset"


class BodyTooLarge(EngineError, httpx.RemoteProtocolError):
    """A response body the caller keeps grew past `SessionConfig.max_body`."""

    kind = "body_too_large"


class HeaderTooLarge(EngineError, httpx.RemoteProtocolError):
    """A response's header block grew past `RunnerConfig.max_header_size`."""

    kind = "header_too_large"


class ProtocolError(EngineError, httpx.RemoteProtocolError):
    kind = "protocol_error"


class StreamReset(EngineError, httpx.RemoteProtocolError):
    kind = "stream_reset"


class GoAway(EngineError, httpx.RemoteProtocolError):
    """The HTTP/2 server sent GOAWAY. `unprocessed` streams (above its last stream id) are safe
    to retry anywhere; the others may have been processed, so only idempotent ones are."""

    kind = "goaway"

    def __init__(self, message: str, *, unprocessed: bool) -> None:
        super().__init__(message)
        self.unprocessed = unprocessed


class PoolClosed(EngineError, httpx.TransportError):
    kind = "cancelled"


def without_frames(exc: BaseException) -> BaseException:
    """`exc`, its traceback let go, for `raise EngineError(...) from without_frames(exc)`: the
    frames of a failed connect or handshake hold the future that holds `exc` (asyncio's
    `wait_for`), a reference cycle per failure that only the cyclic collector frees, in one long
    pause once failures pile up."""
    exc.__traceback__ = None
    return exc


def is_reset(exc: BaseException | None) -> bool:
    """A connection torn down by an RST: ECONNRESET on read, EPIPE on a write after it."""
    return isinstance(exc, ConnectionResetError | BrokenPipeError)


def classify_os_error(exc: BaseException) -> tuple[str, str]:
    """(kind, one-line message) for an exception raised while connecting or talking."""
    if isinstance(exc, EngineError):
        return exc.kind, str(exc) or exc.kind
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls_verify", f"certificate verification failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return "tls_error", f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused", "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection_reset", "connection reset by peer"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "timeout", "timed out"
    if isinstance(exc, OSError):
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EMFILE, errno.ENFILE):
            return "resource_exhausted", f"{exc.strerror or exc} (ports or file descriptors)"
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "unreachable", exc.strerror or str(exc)
        return "os_error", exc.strerror or str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", str(exc) or "timed out"
    if isinstance(exc, httpx.HTTPError):
        return type(exc).__name__.lower(), str(exc) or type(exc).__name__
    return type(exc).__name__, str(exc) or type(exc).__name__
