"""The TLS listener accepts in Python, so a connection is counted before its handshake.

`create_server(ssl=...)` only reports a connection once its handshake is done, and `start_tls`
from `connection_made` races the ClientHello on uvloop (which starts reading right after
`connection_made`, whatever the protocol paused). So: accept here, count, then hand the socket to
`connect_accepted_socket`, which does the handshake; a failed one is counted closed here.
"""

from __future__ import annotations

import asyncio
import socket

from ._connection import ServerConnection
from ._counters import Field
from ._options import Listener
from ._site import Site

HANDSHAKE_TIMEOUT = 10.0
# After sending close_notify, how long to wait for the client's before closing the socket anyway.
# A client that isn't reading (an idle pooled connection) never answers; nginx doesn't wait at all.
SSL_SHUTDOWN_TIMEOUT = 0.25
ACCEPT_BATCH = 64  # connections accepted per readable event, at most


class TlsListener:
    def __init__(self, site: Site, sock: socket.socket) -> None:
        self._site = site
        self._sock = sock
        self._slot = site.slots[Listener.HTTPS]
        self._handshakes: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def start(self) -> None:
        self._site.loop.add_reader(self._sock.fileno(), self._accept)

    def close(self) -> None:
        self._site.loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for task in list(self._handshakes):
            task.cancel()

    def _accept(self) -> None:
        site = self._site
        for _ in range(ACCEPT_BATCH):
            try:
                client, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, or a connection reset while queued
                return
            client.setblocking(False)
            site.counts[self._slot + Field.ACCEPTED] += 1
            task = site.loop.create_task(self._handshake(client))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _handshake(self, client: socket.socket) -> None:
        site = self._site
        connection = ServerConnection(site, Listener.HTTPS, counted=True)
        try:
            await site.loop.connect_accepted_socket(
                lambda: connection,
                client,
                ssl=site.ssl_context,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
                ssl_shutdown_timeout=SSL_SHUTDOWN_TIMEOUT,
            )
        except asyncio.CancelledError:
            connection.forget()
            raise
        except Exception:
            # A failed handshake: the transport has closed the socket (never close it here, it
            # may already be another connection's descriptor). `forget` counts once, even if
            # the connection had started.
            connection.forget()


def listening_socket(host: str, port: int, backlog: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
