"""`serve`: one worker's listeners on the running loop, until the task is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import ssl
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..phrases import as_phrase
from ._app import App
from ._connection import ServerConnection
from ._counters import SharedCounters
from ._options import Listener, TargetOptions
from ._site import Site
from ._tls_listener import TlsListener, listening_socket

if TYPE_CHECKING:
    from ._h3 import Http3Listener


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """Where a started target listens; what `ready_callback` receives."""

    host: str
    http_port: int
    https_port: int | None = None
    cert_path: str | None = None  # PEM to verify the TLS listener with (as a CA file)
    pid: int = 0
    worker: int = 0
    http3_port: int | None = None  # UDP
    unix_socket: str | None = None

    @property
    def http_url(self) -> str:
        return f"http://{_netloc(self.host, self.http_port)}"

    @property
    def https_url(self) -> str | None:
        if self.https_port is None:
            return None
        return f"https://{_netloc(self.host, self.https_port)}"

    @property
    def http3_url(self) -> str | None:
        """The HTTP/3 listener's URL (https, on its UDP port), or None without HTTP/3."""
        if self.http3_port is None:
            return None
        return f"https://{_netloc(self.host, self.http3_port)}"


def connection_factory(site: Site, listener: Listener) -> Callable[[], ServerConnection]:
    return lambda: ServerConnection(site, listener)


async def serve(
    options: TargetOptions,
    ready_callback: Callable[[TargetInfo], object] | None = None,
    *,
    counters: SharedCounters | None = None,
    worker: int = 0,
    secret: bytes | None = None,
) -> None:
    """Serve on the running loop until cancelled; call `ready_callback` once listening.

    With `tls` and no `certfile`, a self-signed certificate is made in a temporary directory,
    removed when serving ends. `counters`/`worker`/`secret` let several worker processes share
    one set of counters and session signatures (see `TargetProcess`).
    """
    counters = counters or SharedCounters(1)
    secret = secret or os.urandom(16)
    with contextlib.ExitStack() as stack:
        if options.tls and options.certfile is None:
            from ._cert import write_self_signed  # cryptography only when TLS is on

            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="loadscope-target-"))
            certfile, keyfile = write_self_signed(directory)
            options = replace(options, certfile=certfile, keyfile=keyfile)
        await _serve(options, ready_callback, counters, worker, secret)


async def _serve(
    options: TargetOptions,
    ready_callback: Callable[[TargetInfo], object] | None,
    counters: SharedCounters,
    worker: int,
    secret: bytes,
) -> None:
    loop = asyncio.get_running_loop()
    stats = _stats_function(counters, worker)
    app = App(stats, secret, worker=worker, workers=options.workers)
    ssl_context = _ssl_context(options) if options.tls else None
    site = Site(options, app, counters, worker, ssl_context)
    reuse_port = options.workers > 1
    server: asyncio.AbstractServer | None = None
    tls: TlsListener | None = None
    http3: Http3Listener | None = None
    unix: asyncio.AbstractServer | None = None
    host = options.host
    try:
        with listening_on(_netloc(host, options.port)):
            plain = listening_socket(host, options.port, options.backlog, reuse_port)
        server = await loop.create_server(
            connection_factory(site, Listener.HTTP), sock=plain, backlog=options.backlog
        )
        if options.tls:
            with listening_on(_netloc(host, options.tls_port)):
                secure = listening_socket(host, options.tls_port, options.backlog, reuse_port)
            tls = TlsListener(site, secure)
            tls.start()
        if options.http3_port is not None:
            from ._h3 import Http3Listener  # aioquic only when HTTP/3 is asked for

            http3 = Http3Listener(site, options)
            udp_port = options.http3_port or (tls.port if tls is not None else 0)
            with listening_on(f"UDP {_netloc(host, udp_port)}"):
                await http3.start(udp_port)
        if options.unix_socket is not None and worker == 0:
            with listening_on(f"unix socket {options.unix_socket}", options.unix_socket):
                unix = await listen_unix(loop, site, options.unix_socket, options.backlog)
        info = TargetInfo(
            options.host,
            int(plain.getsockname()[1]),
            None if tls is None else tls.port,
            options.certfile,
            os.getpid(),
            worker,
            None if http3 is None else http3.port,
            options.unix_socket,
        )
        if ready_callback is not None:
            ready_callback(info)
        await loop.create_future()  # until cancelled
    finally:
        if server is not None:
            server.close()
        if tls is not None:
            tls.close()
        if unix is not None:
            unix.close()
            with contextlib.suppress(OSError):
                os.unlink(options.unix_socket or "")
        await site.close_all()
        if http3 is not None:
            http3.close()  # after close_all: the connections' CONNECTION_CLOSE goes out on it


class ListenError(OSError):
    """One listener could not be had: `where` (`127.0.0.1:8080`, `unix socket PATH`, `UDP ...`)
    and `reason`, in words."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"cannot listen on {where}: {reason}")
        self.where = where
        self.reason = reason

    def __reduce__(self) -> tuple[type[ListenError], tuple[str, str]]:
        return ListenError, (self.where, self.reason)


@contextlib.contextmanager
def listening_on(where: str, unix_path: str | None = None) -> Iterator[None]:
    """An OSError while setting up the listener at `where` becomes a `ListenError` naming it."""
    try:
        yield
    except ListenError:
        raise
    except OSError as exc:
        raise ListenError(where, listen_reason(exc, unix_path)) from exc


MAX_UNIX_PATH = 107  # sun_path is 108 bytes on Linux, with the terminating NUL


def listen_reason(exc: OSError, unix_path: str | None = None) -> str:
    """Why a bind failed, in the words a user acts on."""
    if unix_path is not None and len(os.fsencode(unix_path)) > MAX_UNIX_PATH:
        return f"path too long (at most {MAX_UNIX_PATH} bytes)"
    if exc.errno == errno.EADDRINUSE:
        if unix_path is not None and os.path.lexists(unix_path):
            return "a file that is not a socket is in the way"
        return "address already in use"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no such address on this machine"
    return as_phrase(exc.strerror or str(exc))


async def listen_unix(
    loop: asyncio.AbstractEventLoop, site: Site, path: str, backlog: int
) -> asyncio.AbstractServer:
    """Listen on `path`; a socket left there by an earlier run is replaced, any other file is
    an error (OSError: the path is taken)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    factory = connection_factory(site, Listener.UNIX)
    return await loop.create_unix_server(factory, path, backlog=backlog)


def _ssl_context(options: TargetOptions) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(options.certfile or "", options.keyfile)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


def _stats_function(counters: SharedCounters, worker: int) -> Callable[[], dict[str, object]]:
    pid = os.getpid()

    def stats() -> dict[str, object]:
        return {**counters.as_dict(), "worker": worker, "pid": pid}

    return stats


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
