"""HTTP/3 over QUIC on a UDP port, with aioquic: the same routes and counters as the TCP listeners.

A QUIC connection counts as accepted when the server creates its state for it (the client's
first Initial packet), and as closed when aioquic reports it terminated (a CONNECTION_CLOSE
either way, or the idle timeout). `keepalive_timeout` is QUIC's idle timeout.

Closing (`/close`, `always_close`, `http3_goaway_after` requests) sends GOAWAY at once, naming
the first request stream it will not serve: streams below it are answered, later ones are reset
with H3_REQUEST_REJECTED (uncounted: the client may send them again). Once none is in flight,
the client closes (it has no more use for the connection), or after `GOAWAY_GRACE` the server
does (H3_NO_ERROR). Not at once: aioquic sends a CONNECTION_CLOSE in place of any stream data
that pacing still holds back, and answers the client never received would be served twice.
aioquic (1.7) has no call for GOAWAY, so the frame is written on the H3 layer's control stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, ErrorCode, FrameType, H3Connection, encode_frame
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, ProtocolNegotiated, QuicEvent, StreamReset

from ._app import Deferred, Request, Response, request_from_fields
from ._counters import Field
from ._options import Listener, TargetOptions
from ._site import Site

_SERVER = (b"server", b"loadscope-target")
_DEFAULT_IDLE_TIMEOUT = 60.0
GOAWAY_GRACE = 1.0  # seconds after GOAWAY and the last answer before the server closes


class _Stream:
    __slots__ = ("body", "headers", "timer")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.headers = headers
        self.body: list[bytes] = []
        self.timer: asyncio.TimerHandle | None = None


class Http3ServerConnection(QuicConnectionProtocol):
    """One QUIC connection of the HTTP/3 listener."""

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site
        self.slot = site.slots[Listener.HTTP3]
        self._h3: H3Connection | None = None
        self._streams: dict[int, _Stream] = {}
        self._next_stream_id = 0  # above every request stream received so far
        self._goaway_id: int | None = None  # the first stream not served, once GOAWAY is sent
        self._served = 0
        self._close_timer: asyncio.TimerHandle | None = None
        self._gone = False
        site.counts[self.slot + Field.ACCEPTED] += 1
        site.connections.add(self)

    # -- QUIC events ----------------------------------------------------------------------------
    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated):
            self._h3 = H3Connection(self._quic)
        elif isinstance(event, ConnectionTerminated):
            self._terminated()
            return
        elif isinstance(event, StreamReset):
            self._drop(event.stream_id)
        if self._h3 is not None:
            for h3_event in self._h3.handle_event(event):
                self._h3_event(h3_event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._terminated()
        super().connection_lost(exc)

    def _h3_event(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            self._next_stream_id = max(self._next_stream_id, event.stream_id + 4)
            stream = self._streams.setdefault(event.stream_id, _Stream(list(event.headers)))
            if event.stream_ended:
                self._on_request(event.stream_id, stream)
        elif isinstance(event, DataReceived):
            stream_or_none = self._streams.get(event.stream_id)
            if stream_or_none is None:
                return
            if event.data:
                stream_or_none.body.append(event.data)
            if event.stream_ended:
                self._on_request(event.stream_id, stream_or_none)

    # -- requests and responses -----------------------------------------------------------------
    def _on_request(self, stream_id: int, stream: _Stream) -> None:
        request = _request_of(stream)
        if request is None or (self._goaway_id is not None and stream_id >= self._goaway_id):
            self._reset(stream_id, ErrorCode.H3_REQUEST_REJECTED)
            self._close_when_answered()
            return
        self.site.counts[self.slot + Field.REQUESTS] += 1
        self._served += 1
        if self._served == self.site.options.http3_goaway_after:
            self._send_goaway()
        result = self.site.app.handle(request)
        head_only = request.method == "HEAD"
        if isinstance(result, Deferred):
            stream.timer = self.site.loop.call_later(
                result.delay, self._respond, stream_id, result.response, head_only
            )
        else:
            self._respond(stream_id, result, head_only)

    def _respond(self, stream_id: int, response: Response, head_only: bool) -> None:
        if self._h3 is None or self._gone or stream_id not in self._streams:
            return
        if response.reset is not None:
            self._reset(stream_id, response.reset)
            self._close_when_answered()
            return
        headers = [(b":status", b"%d" % response.status), _SERVER]
        body = response.body
        no_body = response.status in (204, 304)
        if not no_body:
            headers.append((b"content-type", response.content_type))
            headers.append((b"content-length", b"%d" % len(body)))
        if head_only or no_body:
            body = b""
        headers.extend(response.headers)
        self._h3.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self._h3.send_data(stream_id, body, end_stream=True)
        self._streams.pop(stream_id, None)
        if response.close or self.site.options.always_close:
            self._send_goaway()
        self.transmit()
        self._close_when_answered()

    def _reset(self, stream_id: int, code: int) -> None:
        self._drop(stream_id)
        self._quic.reset_stream(stream_id, code)
        self.transmit()

    def _drop(self, stream_id: int) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is not None and stream.timer is not None:
            stream.timer.cancel()

    def _send_goaway(self) -> None:
        if self._h3 is None or self._goaway_id is not None:
            return
        self._goaway_id = self._next_stream_id
        control = self._h3._local_control_stream_id  # private: no public call sends GOAWAY
        if control is not None:
            frame = encode_frame(FrameType.GOAWAY, encode_uint_var(self._goaway_id))
            self._quic.send_stream_data(control, frame)

    def _close_when_answered(self) -> None:
        if self._goaway_id is not None and not self._streams and self._close_timer is None:
            self._close_timer = self.site.loop.call_later(GOAWAY_GRACE, self._close_after_goaway)

    def _close_after_goaway(self) -> None:
        self._close_timer = None  # a stream still in flight re-arms it when answered
        if not self._gone and not self._streams:
            self.close(error_code=ErrorCode.H3_NO_ERROR, reason_phrase="closing")

    # -- life cycle -----------------------------------------------------------------------------
    def _terminated(self) -> None:
        if self._gone:
            return
        self._gone = True
        if self._close_timer is not None:
            self._close_timer.cancel()
        for stream_id in list(self._streams):
            self._drop(stream_id)
        self.site.counts[self.slot + Field.CLOSED] += 1
        self.site.connections.discard(self)

    def shutdown(self) -> None:
        """The worker stops: answer nothing more, close now (H3_NO_ERROR)."""
        if not self._gone:
            self.close(error_code=ErrorCode.H3_NO_ERROR, reason_phrase="server stopping")

    def abort(self) -> None:
        self._terminated()


def _request_of(stream: _Stream) -> Request | None:
    body, stream.body = b"".join(stream.body), []
    return request_from_fields(stream.headers, body, "HTTP/3")


class Http3Listener:
    """The UDP endpoint that accepts QUIC connections for one worker."""

    def __init__(self, site: Site, options: TargetOptions) -> None:
        self.site = site
        self.options = options
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self, port: int) -> int:
        options = self.options
        configuration = QuicConfiguration(
            is_client=False,
            alpn_protocols=H3_ALPN,
            idle_timeout=options.keepalive_timeout or _DEFAULT_IDLE_TIMEOUT,
        )
        configuration.load_cert_chain(options.certfile or "", options.keyfile)
        site = self.site

        def connection(*args: Any, **kwargs: Any) -> Http3ServerConnection:
            return Http3ServerConnection(*args, site=site, **kwargs)

        transport, _ = await site.loop.create_datagram_endpoint(
            lambda: QuicServer(configuration=configuration, create_protocol=connection),
            local_addr=(options.host, port),
            reuse_port=options.workers > 1,
        )
        self._transport = transport
        self.port = int(transport.get_extra_info("sockname")[1])
        return self.port

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
