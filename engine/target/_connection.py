"""One accepted TCP connection: counted, then a protocol choice, then a codec that speaks it.

The plain listener tells HTTP/2 with prior knowledge from HTTP/1.1 by the client's first bytes
(the 24-byte HTTP/2 preface); on the TLS listener ALPN decides (see `_tls_listener`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct

from ._counters import Field
from ._h1 import Http1Codec
from ._h2 import Http2Codec
from ._options import Listener, PlainProtocols
from ._site import Codec, Site

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class ServerConnection(asyncio.Protocol):
    __slots__ = (
        "_buffer",
        "_close_on_resume",
        "_counted",
        "_gone",
        "_idle_since",
        "_idle_timer",
        "_write_paused",
        "codec",
        "listener",
        "site",
        "slot",
        "transport",
    )

    def __init__(self, site: Site, listener: Listener, *, counted: bool = False) -> None:
        self.site = site
        self.listener = listener
        self.slot = site.slots[listener]
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set on connect
        self.codec: Codec | None = None
        self._buffer = b""
        self._counted = counted  # accepted already counted (TLS: before the handshake)
        self._gone = False
        self._idle_since: float | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._write_paused = False
        self._close_on_resume = False

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        site = self.site
        if not self._counted:
            site.counts[self.slot + Field.ACCEPTED] += 1
        site.connections.add(self)
        if self.listener is Listener.HTTPS:
            ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
            alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
            if alpn == "h2":
                self._use(Http2Codec)
            elif alpn == "http/1.1":
                self._use(Http1Codec)
        elif site.options.plain is PlainProtocols.HTTP1:
            self._use(Http1Codec)
        elif site.options.plain is PlainProtocols.H2C:
            self._use(Http2Codec)
        self.mark_idle()

    def data_received(self, data: bytes) -> None:
        codec = self.codec
        if codec is not None:
            codec.feed(data)
            return
        self._buffer += data
        self._sniff()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.forget()
        if self.codec is not None:
            self.codec.lost()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._close_on_resume:
            self.transport.close()

    def close(self) -> None:
        """Close once what was written is (nearly) all handed to the socket.

        A TLS close waits a moment (`SSL_SHUTDOWN_TIMEOUT`) for the client's close_notify, then
        drops whatever is still unsent; draining first keeps big answers to slow readers whole.
        """
        if self._write_paused:
            self._close_on_resume = True
        else:
            self.transport.close()

    # -- protocol choice ------------------------------------------------------------------------
    def _sniff(self) -> None:
        buffer = self._buffer
        size = min(len(buffer), len(PREFACE))
        if buffer[:size] != PREFACE[:size]:
            self._use(Http1Codec)
        elif size == len(PREFACE):
            self._use(Http2Codec)

    def _use(self, codec_class: type[Http1Codec] | type[Http2Codec]) -> None:
        codec = self.codec = codec_class(self)
        codec.start()
        buffer, self._buffer = self._buffer, b""
        if buffer:
            codec.feed(buffer)

    # -- bookkeeping ----------------------------------------------------------------------------
    def count_request(self) -> None:
        self.site.counts[self.slot + Field.REQUESTS] += 1

    def mark_busy(self) -> None:
        self._idle_since = None

    def mark_idle(self) -> None:
        """Start the keep-alive clock; one timer per connection, re-armed only when it fires."""
        timeout = self.site.options.keepalive_timeout
        if timeout is None or self._gone:
            return
        loop = self.site.loop
        self._idle_since = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(timeout, self._check_idle)

    def _check_idle(self) -> None:
        self._idle_timer = None
        if self._idle_since is None or self._gone:
            return  # busy: the next mark_idle re-arms
        timeout = self.site.options.keepalive_timeout or 0.0
        loop = self.site.loop
        remaining = self._idle_since + timeout - loop.time()
        if remaining > 0:
            self._idle_timer = loop.call_later(remaining, self._check_idle)
        else:
            self.shutdown()

    def abort(self) -> None:
        self.transport.abort()

    def reset(self) -> None:
        """Tear the connection down with a TCP RST (SO_LINGER 0), as `/reset/{code}` asks."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def shutdown(self) -> None:
        """Close gracefully: idle keep-alive expiry, or the server stopping."""
        if self.codec is not None:
            self.codec.shutdown()
        else:
            self.close()

    def forget(self) -> None:
        """Count the close, once."""
        if self._gone:
            return
        self._gone = True
        site = self.site
        site.counts[self.slot + Field.CLOSED] += 1
        site.connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
