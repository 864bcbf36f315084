"""HTTP/3 connections: aioquic's QUIC and H3 state machines on one UDP socket, many streams.

A QUIC connection has no TCP handshake and no TLS record layer of its own: its one handshake (QUIC
with TLS 1.3 inside) is timed as `tls_us`, and `connect_us` stays 0. It leaves no TIME_WAIT
behind. The server's stream limit is QUIC's own flow control, so this connection takes at most
`MAX_STREAMS` requests at once, below every common server's initial limit (aioquic's is 128).

A GOAWAY from the server names the first request stream it will not serve: requests on that
stream and later ones fail as unprocessed (the pool sends them again on a new connection), the
others finish, and then the connection closes. A stream reset with H3_REQUEST_REJECTED is
unprocessed too (RFC 9114 §4.1.1); any other reset fails its request as `stream_reset`.

Cost: aioquic's transmit walks every open stream, so a connection sends once per loop pass
(`_QuicEndpoint`) and acknowledges then too (`client_quic`); simple responses and requests skip
aioquic's H3 layer (`_h3_fast`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time

import certifi
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import (
    H3_ALPN,
    ErrorCode,
    H3Connection,
    Setting,
)
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    QuicEvent,
    StreamDataReceived,
    StreamReset,
)
from aioquic.tls import AlertDescription

from .._config import CloseReason
from ._errors import (
    BodyTooLarge,
    ConnectError,
    ConnectTimeout,
    GoAway,
    HeaderTooLarge,
    PeerClosed,
    ReadTimeout,
    TLSError,
)
from ._errors import (
    StreamReset as StreamResetError,
)
from ._h3_control import ControlStreamReader, is_server_unidirectional
from ._h3_fast import field_section_size
from ._h3_paths import StreamPaths
from ._serialize import h2_headers, request_body
from ._stream import ResponseStream
from ._tls import QuicSettings
from ._wire import RawRequest, RawResponse
from .interfaces import DEFAULT_MAX_BODY, Connection, ConnectionObserver

MAX_STREAMS = 100
_HTTP3 = b"HTTP/3"
# QUIC transport error codes (RFC 9000 §20.1) that mean the TLS handshake failed.
_CRYPTO_ERRORS = range(0x100, 0x200)
# The alerts (as CRYPTO_ERROR codes) that say a certificate was refused: aioquic closes with
# these when the server's certificate does not verify.
_CERTIFICATE_ERRORS = frozenset(
    0x100 + alert
    for alert in (
        AlertDescription.bad_certificate,
        AlertDescription.unsupported_certificate,
        AlertDescription.certificate_revoked,
        AlertDescription.certificate_expired,
        AlertDescription.certificate_unknown,
        AlertDescription.unknown_ca,
    )
)
_H3_NO_ERROR = int(ErrorCode.H3_NO_ERROR)
_H3_REQUEST_REJECTED = int(ErrorCode.H3_REQUEST_REJECTED)


class QuicHandshakeTimeout(ConnectTimeout):
    kind = "quic_handshake_timeout"


class RequestRejected(GoAway):
    """The server reset the stream with H3_REQUEST_REJECTED: not processed, safe to retry."""

    kind = "stream_reset"


class QuicClosed(PeerClosed):
    """The peer (or the QUIC stack) closed the connection with an error code."""

    kind = "quic_closed"

    def __init__(self, message: str, code: int, *, before_response: bool) -> None:
        super().__init__(message, before_response=before_response)
        self.code = code


def _error_name(code: int) -> str:
    """The name RFC 9114 gives an HTTP/3 error code, with ", " after it; "" for another code."""
    try:
        return f"{ErrorCode(code).name}, "
    except ValueError:
        return ""


def quic_configuration(settings: QuicSettings, server_name: str) -> QuicConfiguration:
    """The client's QUIC configuration: ALPN h3, verification as the runner's TLS has it."""
    configuration = QuicConfiguration(
        is_client=True,
        alpn_protocols=H3_ALPN,
        server_name=server_name,
        idle_timeout=settings.idle_timeout,
    )
    if settings.skip_verify:
        configuration.verify_mode = ssl.CERT_NONE
    else:
        configuration.load_verify_locations(settings.cacert or certifi.where())
    if settings.cert:
        configuration.load_cert_chain(settings.cert, settings.key)
    return configuration


def client_quic(configuration: QuicConfiguration) -> QuicConnection:
    """aioquic's QUIC state machine, acknowledging with its next send rather than 1 ms later
    (aioquic's delay, which has no setting): the ACK then rides on the requests of the same loop
    pass, not alone on a timer's packet, and a server whose congestion window waits on ACKs is
    not held back by them (RFC 9000 §13.2.1 allows any delay up to max_ack_delay). An aioquic
    without that attribute keeps its own delay: correct, only slower."""
    quic = QuicConnection(configuration=configuration)
    if hasattr(quic, "_ack_delay"):
        quic._ack_delay = 0.0
    return quic


class LimitedH3Connection(H3Connection):
    """aioquic's H3 state machine, advertising SETTINGS_MAX_FIELD_SECTION_SIZE (aioquic sends
    its settings as it is built, so the limit is set first)."""

    def __init__(self, quic: QuicConnection, max_field_section_size: int) -> None:
        self.max_field_section_size = max_field_section_size
        super().__init__(quic)

    def _get_local_settings(self) -> dict[int, int]:
        settings = super()._get_local_settings()
        settings[Setting.MAX_FIELD_SECTION_SIZE] = self.max_field_section_size
        return settings


def closed_error(event: ConnectionTerminated) -> QuicClosed:
    """What the requests still waiting get when the connection is terminated."""
    return QuicClosed(
        f"server closed the QUIC connection (error 0x{event.error_code:x}"
        + (f": {event.reason_phrase})" if event.reason_phrase else ")"),
        event.error_code,
        before_response=True,
    )


def quiet_aioquic_logs() -> None:
    """aioquic logs each connection it closes on an error at WARNING (one line per failed
    handshake); with no logging configured, Python's last-resort handler prints those on stderr,
    past `-q` and under the console's screen. The engine reports the same failure as an error
    kind, so the lines go nowhere unless the application configures logging itself."""
    for name in ("quic", "http3"):
        logger = logging.getLogger(name)
        if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
            logger.addHandler(logging.NullHandler())


quiet_aioquic_logs()


def handshake_error(
    event: ConnectionTerminated, origin: str, *, sent_certificate: bool = False
) -> Exception:
    """What a connection terminated during its handshake fails with. A certificate alert is this
    client refusing the server's certificate, named as TCP's TLS names it (`tls_verify`), unless
    this client sent a certificate of its own: then the server may be the one refusing."""
    reason = event.reason_phrase or f"error 0x{event.error_code:x}"
    if event.error_code in _CERTIFICATE_ERRORS and not sent_certificate:
        message = f"QUIC TLS with {origin}: certificate verification failed: {reason}"
        return TLSError(message, "tls_verify")
    if event.error_code in _CRYPTO_ERRORS:
        return TLSError(f"QUIC TLS with {origin}: {reason}")
    if "version" in reason.lower():
        return ConnectError(
            f"QUIC version negotiation with {origin} failed: {reason}",
            "quic_version_negotiation",
        )
    return ConnectError(f"QUIC handshake with {origin}: {reason}", "quic_closed")


class _QuicEndpoint(QuicConnectionProtocol):
    """The UDP endpoint; it hands every QUIC event to the connection that owns it.

    What it has to send goes out once per loop pass (`transmit_soon`), not once per request or
    per datagram read: each of aioquic's transmits walks every open stream, and the answers of
    one read wake many requests whose successors would each start that walk again."""

    def __init__(self, quic: QuicConnection, owner: AsyncHTTP3Connection) -> None:
        super().__init__(quic)
        self.owner = owner
        self._flush: asyncio.Handle | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        self.owner.on_quic_event(event)

    def datagram_received(self, data: bytes | str, addr: tuple[object, ...]) -> None:
        self.owner.bytes_received += len(data)
        self._quic.receive_datagram(data, addr, now=self._loop.time())  # type: ignore[arg-type]
        self._process_events()
        self.transmit_soon()

    def transmit_soon(self) -> None:
        if self._flush is None:
            self._flush = self._loop.call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush = None
        if self._transport is not None and not self._transport.is_closing():
            self.transmit()


class AsyncHTTP3Connection(Connection):
    multiplexed = True

    def __init__(
        self,
        observer: ConnectionObserver,
        runner: str,
        origin: str,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        Connection.__init__(self, observer, runner, origin, "HTTP/3", max_body)
        self._endpoint: _QuicEndpoint | None = None
        self._quic: QuicConnection | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._h3: H3Connection | None = None
        self._streams: dict[int, ResponseStream] = {}
        self._handshake: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._draining = False  # the server sent GOAWAY
        self._control = ControlStreamReader()
        self._paths: StreamPaths | None = None  # aioquic's H3 layer or the fast path
        self.peer_error: tuple[int, str] | None = None  # the CONNECTION_CLOSE code and reason
        self._sent_certificate = False  # a client certificate: see `handshake_error`

    # -- opening --------------------------------------------------------------------------------
    async def open(
        self, address: str, port: int, settings: QuicSettings, server_name: str, timeout: float
    ) -> None:
        """Handshake with the server; raises ConnectTimeout, TLSError or ConnectError."""
        loop = asyncio.get_running_loop()
        quic = self._quic = client_quic(quic_configuration(settings, server_name))
        self._sent_certificate = bool(settings.cert)
        # Before the handshake: the server's control and QPACK streams may arrive with it.
        self._h3 = LimitedH3Connection(quic, self.max_header_size)
        self._paths = StreamPaths(self._h3, quic, self.max_header_size)
        self._handshake = loop.create_future()
        self._lost = loop.create_future()
        started = time.perf_counter()
        try:
            transport, endpoint = await loop.create_datagram_endpoint(
                lambda: _QuicEndpoint(quic, self), remote_addr=(address, port)
            )
        except OSError as exc:
            raise ConnectError(f"UDP socket to {self.origin}: {exc}") from exc
        self._endpoint, self._udp = endpoint, transport
        self.local_port = int(transport.get_extra_info("sockname")[1])
        endpoint.connect((address, port))
        try:
            await asyncio.wait_for(asyncio.shield(self._handshake), timeout)
        except TimeoutError:
            self._abort()
            raise QuicHandshakeTimeout(f"QUIC handshake with {self.origin} timed out") from None
        except BaseException:
            self._abort()
            raise
        self.tls_us = int((time.perf_counter() - started) * 1e6)

    def _abort(self) -> None:
        if self._udp is not None:
            self._udp.abort()

    # -- the connection interface ---------------------------------------------------------------
    @property
    def usable(self) -> bool:
        return not self.closed and not self._draining

    def is_available(self) -> bool:
        return self.usable and len(self._streams) < MAX_STREAMS

    def close(self, reason: CloseReason, *, error_code: int = _H3_NO_ERROR) -> None:
        if self.closed:
            return
        self._mark_closed(reason)
        if self._endpoint is not None:
            self._endpoint.close(error_code=error_code)  # sends CONNECTION_CLOSE now
        # No draining period: a load generator has nothing to answer late packets with, and a
        # socket kept for it would outlive the session (UDP leaves no TIME_WAIT behind).
        if self._udp is not None:
            self._udp.close()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._fail_all(PeerClosed("connection closed", before_response=True))

    async def wait_closed(self, timeout: float = 1.0) -> None:
        if self._lost is None or self._lost.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._lost), timeout)
        except TimeoutError:
            self._abort()

    async def send(self, request: RawRequest, timeout: float | None) -> RawResponse:
        if not self.usable or self._h3 is None or self._endpoint is None or self._quic is None:
            raise PeerClosed("connection no longer usable", before_response=True)
        headers = h2_headers(request)
        body = request_body(request)
        loop = asyncio.get_running_loop()
        stream_id = self._quic.get_next_available_stream_id()
        stream = self._streams[stream_id] = ResponseStream(
            loop.create_future(), request.keep_body, _HTTP3
        )
        self._started_stream()
        timer = loop.call_later(timeout, self._on_timeout, stream_id) if timeout else None
        try:
            self._send_request(stream_id, request, headers, body)
            self.bytes_sent += len(body)
            self._endpoint.transmit_soon()
            response = await stream.waiter
            response.first_byte = stream.first_byte
            return response
        finally:
            if timer is not None:
                timer.cancel()
            self._end_stream(stream_id)

    def _send_request(
        self, stream_id: int, request: RawRequest, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        assert self._paths is not None
        self._paths.send_request(stream_id, request, headers, body)

    # -- QUIC and H3 events ---------------------------------------------------------------------
    def on_quic_event(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted):
            if self._handshake is not None and not self._handshake.done():
                self._handshake.set_result(None)
        elif isinstance(event, ConnectionTerminated):
            self._on_terminated(event)
            return
        elif isinstance(event, StreamReset):
            self._on_reset(event.stream_id, event.error_code)
        elif isinstance(event, StreamDataReceived):
            if self._answered_whole(event) or self._headers_too_long(event):
                return
            assert self._paths is not None
            self._paths.before_h3_reads(event.stream_id)
        if self._h3 is not None:
            for h3_event in self._h3.handle_event(event):
                self._on_h3_event(h3_event)
        if isinstance(event, StreamDataReceived) and is_server_unidirectional(event.stream_id):
            for first_unserved in self._control.feed(event.stream_id, event.data):
                self._on_goaway(first_unserved)

    def _on_h3_event(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            self._on_headers(event.stream_id, event.headers, event.stream_ended)
        elif isinstance(event, DataReceived):
            self._on_data(event.stream_id, event.data, event.stream_ended)

    def _answered_whole(self, event: StreamDataReceived) -> bool:
        """A response that came whole and simple, read without aioquic's H3 layer."""
        whole = self._paths.whole_response(event, self._streams) if self._paths else None
        if whole is None:
            return False
        decoded, data = whole
        self._on_headers(event.stream_id, decoded.headers, not data, decoded.size)
        for index, chunk in enumerate(data, 1):
            if chunk or index == len(data):
                self._on_data(event.stream_id, chunk, index == len(data))
        return True

    def _headers_too_long(self, event: StreamDataReceived) -> bool:
        """A response HEADERS frame longer than `max_header_size`: fail before it is held."""
        if self._paths is None or event.stream_id not in self._streams:
            return False
        if not self._paths.headers_too_long(event):
            return False
        self._header_too_large(event.stream_id)
        return True

    def _header_too_large(self, stream_id: int) -> None:
        """The request fails with `header_too_large`; the connection closes (QPACK's state
        may be waiting on the section that was not read)."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            error = HeaderTooLarge(f"response headers larger than {self.max_header_size} bytes")
            stream.fail(error)
        self.close(CloseReason.ERROR, error_code=int(ErrorCode.H3_EXCESSIVE_LOAD))

    def _on_headers(
        self,
        stream_id: int,
        headers: list[tuple[bytes, bytes]],
        ended: bool,
        size: int | None = None,
    ) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if size is None:
            size = field_section_size(headers)
        if size + stream.header_bytes > self.max_header_size:  # decoded, trailers included
            self._header_too_large(stream_id)
            return
        stream.header_bytes += size
        error = stream.on_headers(headers)
        if error is not None:
            self._abandon(stream_id, error)
        elif ended:
            stream.finish()

    def _on_data(self, stream_id: int, data: bytes, ended: bool) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        stream.body_size += len(data)
        if stream.keep_body and data:
            if stream.body_size > self.max_body:
                stream.keep_body = False
                stream.body = []
                too_large = BodyTooLarge(f"response body larger than {self.max_body} bytes")
                self._abandon(stream_id, too_large)
                return
            stream.body.append(data)
        if ended:
            stream.finish()

    def _on_reset(self, stream_id: int, error_code: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if error_code == _H3_REQUEST_REJECTED:
            stream.fail(RequestRejected("server rejected the stream unprocessed", unprocessed=True))
        else:
            name = _error_name(error_code)
            stream.fail(StreamResetError(f"stream reset by server ({name}0x{error_code:x})"))

    def _on_goaway(self, first_unserved: int) -> None:
        self._draining = True
        for stream_id, stream in self._streams.items():
            if stream_id >= first_unserved:
                stream.fail(GoAway("server sent GOAWAY before this stream", unprocessed=True))
        if not self._streams:
            self.close(CloseReason.GOAWAY)
        self._notify_capacity()

    def _on_terminated(self, event: ConnectionTerminated) -> None:
        self.peer_error = (event.error_code, event.reason_phrase)
        handshaking = self._handshake is not None and not self._handshake.done()
        if handshaking and self._handshake is not None:
            error = handshake_error(event, self.origin, sent_certificate=self._sent_certificate)
            self._handshake.set_exception(error)
        self._fail_all(closed_error(event))
        if not self.closed and not handshaking:
            graceful = event.error_code in (0, _H3_NO_ERROR)
            draining = CloseReason.GOAWAY if self._draining else CloseReason.PEER_CLOSED
            self._mark_closed(draining if graceful else CloseReason.ERROR)
        if self._udp is not None:
            self._udp.close()  # QUIC is done with it: its draining period is over
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._notify_capacity()

    # -- helpers --------------------------------------------------------------------------------
    def _started_stream(self) -> None:
        self.in_flight = len(self._streams)
        if self.in_flight == 1:
            self.observer.on_active()
        self.requests += 1

    def _end_stream(self, stream_id: int) -> None:
        if self._paths is not None:
            self._paths.forget(stream_id)
        if self._streams.pop(stream_id, None) is None:
            return
        self.in_flight = len(self._streams)
        if not self._streams:
            if not self.closed:
                self.observer.on_idle()
            self.last_used = time.monotonic()
            if self._draining:
                self.close(CloseReason.GOAWAY)
        self._notify_capacity()

    def _on_timeout(self, stream_id: int) -> None:
        self._abandon(stream_id, ReadTimeout("no complete response within the timeout"))

    def _abandon(self, stream_id: int, error: Exception) -> None:
        """Fail one request and tell the server (STOP_SENDING) we no longer want its answer."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.waiter.done():
            return
        stream.waiter.set_exception(error)
        if self._endpoint is not None and self._quic is not None and not self.closed:
            self._quic.stop_stream(stream_id, int(ErrorCode.H3_REQUEST_CANCELLED))
            self._endpoint.transmit()

    def _mark_closed(self, reason: CloseReason) -> None:
        self.closed = True
        self.close_reason = reason
        self.observer.on_close(self, reason)

    def _fail_all(self, exc: Exception) -> None:
        for stream in self._streams.values():
            stream.fail(exc)

    def _notify_capacity(self) -> None:
        callback = self.on_capacity
        if callback is not None:
            callback()
