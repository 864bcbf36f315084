"""A fault-injecting HTTP server on loopback, with its own counters as the ground truth.

It accepts sockets itself, so `accepted` counts every completed TCP handshake, TLS or not, before
any byte is read. One `Fault` applies to every connection. HTTP/1.1, h2c (prior knowledge) and
TLS (h2 or HTTP/1.1 by ALPN) are spoken.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import ssl
import struct

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

BODY = b"ok"
SHORT_LENGTH = 1000  # Content-Length announced by the short and reset-mid-response faults
BIG_BODY = 50 * 1000 * 1000
CHUNKS = (b"a" * 1000, b"b" * 20_000, b"c" * 7)
IDLE_CLOSE_S = 0.03
SLOW_HEADERS_S = 0.2
GOAWAY_AFTER = 5  # HTTP/2 streams answered per connection before GOAWAY
RESET_EVERY = 3  # every third HTTP/2 stream gets RST_STREAM
TINY_WINDOW = 16  # the tiny_window fault's SETTINGS_INITIAL_WINDOW_SIZE
WINDOW_STEP = 32 * 1024  # ... and the window it returns each time one runs dry
SETTINGS_CHANGE_AFTER = 3  # HTTP/2 streams answered per connection before new SETTINGS
CHANGED_WINDOW = 1024  # the SETTINGS change's INITIAL_WINDOW_SIZE (and streams: 1)
_WRITE_CHUNK = 1 << 20


class Fault(enum.StrEnum):
    NONE = "none"
    RESET_AFTER_ACCEPT = "reset_after_accept"
    RESET_MID_RESPONSE = "reset_mid_response"
    SHORT_BODY = "short_body"
    HUNG = "hung"  # reads the request, never answers
    SLOW_HEADERS = "slow_headers"
    CONNECTION_CLOSE = "connection_close"
    IDLE_CLOSE = "idle_close"  # closes a keep-alive connection idle for IDLE_CLOSE_S
    STATUS_503 = "status_503"
    BIG_BODY = "big_body"
    CHUNKED = "chunked"
    MALFORMED = "malformed"
    GOAWAY = "goaway"
    RST_STREAM = "rst_stream"
    ONE_STREAM = "one_stream"  # SETTINGS_MAX_CONCURRENT_STREAMS = 1
    # HTTP/2 uploads: a 16-byte initial window, then WINDOW_STEP whenever a window runs dry
    TINY_WINDOW = "tiny_window"
    # HTTP/2: after SETTINGS_CHANGE_AFTER answers, SETTINGS lower the stream limit to 1 and the
    # initial window to CHANGED_WINDOW while streams are open
    SETTINGS_CHANGE = "settings_change"
    TLS_HANG = "tls_hang"  # accepts, never answers the ClientHello


class FaultServer:
    """Counters: `accepted` TCP connections, `answered` complete responses, `broken` responses
    sent incomplete or invalid, `resets_sent` (TCP RST or HTTP/2 RST_STREAM), `unanswered`
    requests read and never answered, `too_many_streams` (client broke the stream limit),
    `body_bytes_received` (request bodies, HTTP/2), `flow_control_errors` (client overran a
    window), `settings_changes` (HTTP/2 SETTINGS sent after the first)."""

    def __init__(
        self,
        fault: Fault = Fault.NONE,
        *,
        h2c: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.fault = fault
        self.h2c = h2c
        self.tls = tls
        self.port = 0
        self.accepted = 0
        self.answered = 0
        self.broken = 0
        self.resets_sent = 0
        self.unanswered = 0
        self.too_many_streams = 0
        self.body_bytes_sent = 0
        self.body_bytes_received = 0
        self.flow_control_errors = 0
        self.settings_changes = 0
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(1024)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting = asyncio.create_task(self._accept_loop(listener))

    async def stop(self) -> None:
        """Stop listening and close every connection (a server that dies)."""
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        if self._listener is not None:
            self._listener.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def quiesce(self, timeout: float = 5.0) -> None:
        """Wait (up to `timeout`) until every connection's handler has finished."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    # -- connections --------------------------------------------------------------------------
    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            sock, _ = await loop.sock_accept(listener)
            self.accepted += 1
            task = asyncio.create_task(self._serve(sock))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, sock: socket.socket) -> None:
        if self.fault is Fault.RESET_AFTER_ACCEPT:
            self._reset(sock)
            return
        if self.fault is Fault.TLS_HANG:
            await self._hold(sock)
            return
        try:
            reader, writer = await self._streams(sock)
        except (TimeoutError, OSError, ssl.SSLError):
            sock.close()  # a failed TLS handshake (say, the client rejected our certificate)
            return
        self._writers.add(writer)
        try:
            if self._speaks_h2(writer):
                await _H2Handler(self, reader, writer).run()
            else:
                await self._serve_h1(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _streams(
        self, sock: socket.socket
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        protocol = asyncio.StreamReaderProtocol(reader)
        if self.tls is None:
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock)
        else:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=self.tls, ssl_handshake_timeout=5.0
            )
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    def _speaks_h2(self, writer: asyncio.StreamWriter) -> bool:
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None:
            return bool(ssl_object.selected_alpn_protocol() == "h2")
        return self.h2c

    def _reset(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        self.resets_sent += 1

    async def _hold(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while await loop.sock_recv(sock, 65536):
                pass
        except OSError:
            pass
        finally:
            sock.close()

    # -- HTTP/1.1 -----------------------------------------------------------------------------
    async def _serve_h1(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = True
        while True:
            if self.fault is Fault.IDLE_CLOSE and not first:
                try:
                    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_CLOSE_S)
                except TimeoutError:
                    return
            else:
                await reader.readuntil(b"\r\n\r\n")
            first = False
            if not await self._answer_h1(reader, writer):
                return

    async def _answer_h1(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request as the fault says; False when the connection must end."""
        fault = self.fault
        if fault is Fault.HUNG:
            self.unanswered += 1
            while await reader.read(65536):  # until the client gives up and closes
                pass
            return False
        if fault in (Fault.RESET_MID_RESPONSE, Fault.SHORT_BODY):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SHORT_LENGTH)
            writer.write(b"x" * 100)
            await writer.drain()
            self.broken += 1
            if fault is Fault.RESET_MID_RESPONSE:
                self._reset_transport(writer)
            return False
        if fault is Fault.MALFORMED:
            writer.write(b"HTTP/1.1 2x0 NOT A STATUS\r\n\r\n")
            self.broken += 1
            await writer.drain()
            return False
        if fault is Fault.SLOW_HEADERS:
            writer.write(b"HTTP/1.1 200 OK\r\n")
            await writer.drain()
            await asyncio.sleep(SLOW_HEADERS_S)
        else:
            writer.write(b"HTTP/1.1 %d %s\r\n" % _status(fault))
        return await self._finish_h1(writer)

    async def _finish_h1(self, writer: asyncio.StreamWriter) -> bool:
        fault = self.fault
        close = fault is Fault.CONNECTION_CLOSE
        if fault is Fault.CHUNKED:
            writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
            for chunk in CHUNKS:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            writer.write(b"0\r\n\r\n")
            self._count_answer(sum(len(c) for c in CHUNKS))
        elif fault is Fault.BIG_BODY:
            writer.write(b"Content-Length: %d\r\n\r\n" % BIG_BODY)
            await _write_big(writer, BIG_BODY)
            self._count_answer(BIG_BODY)
        else:
            connection = b"Connection: close\r\n" if close else b""
            writer.write(b"Content-Length: %d\r\n%s\r\n%s" % (len(BODY), connection, BODY))
            self._count_answer(len(BODY))
        await writer.drain()
        return not close

    def _count_answer(self, body_bytes: int) -> None:
        self.answered += 1
        self.body_bytes_sent += body_bytes

    def _reset_transport(self, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        self.resets_sent += 1


class _H2Handler:
    """One HTTP/2 connection: answer GETs, or apply the HTTP/2 faults."""

    def __init__(
        self, server: FaultServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.streams_seen = 0
        self.answered_here = 0
        self.gone_away = False
        self.pending: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        fault = self.server.fault
        settings = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100}
        if fault is Fault.ONE_STREAM:
            settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = 1
        self.conn.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        self.conn.initiate_connection()
        if fault is Fault.TINY_WINDOW:
            # As a SETTINGS change, in force once the client acknowledges it: a client may send
            # with the default window before our first SETTINGS reach it.
            codes = h2.settings.SettingCodes
            self.conn.update_settings({codes.INITIAL_WINDOW_SIZE: TINY_WINDOW})
        self.flush()
        while data := await self.reader.read(65536):
            if self.gone_away:
                continue  # drain until the client closes, so no RST eats our GOAWAY
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.TooManyStreamsError:
                self.server.too_many_streams += 1
                return
            except h2.exceptions.FlowControlError:
                self.server.flow_control_errors += 1
                return
            for event in events:
                self.on_event(event)
            self.flush()

    def on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            self.server.body_bytes_received += len(event.data)
            self.return_window(event.stream_id, event.flow_controlled_length)
        elif isinstance(event, h2.events.StreamEnded) and not self.gone_away:
            self.on_request(event.stream_id)

    def return_window(self, stream_id: int, length: int) -> None:
        """tiny_window: WINDOW_STEP more whenever the stream's or the connection's window is
        empty; otherwise h2's own policy (half a window at a time)."""
        conn = self.conn
        if self.server.fault is not Fault.TINY_WINDOW:
            with contextlib.suppress(h2.exceptions.StreamClosedError):
                conn.acknowledge_received_data(length, stream_id)
            return
        if conn.inbound_flow_control_window <= 0:
            conn.increment_flow_control_window(WINDOW_STEP)
        stream = conn.streams.get(stream_id)
        # Below zero: a stream opened before the client took our SETTINGS.
        while stream is not None and stream.open and stream.inbound_flow_control_window <= 0:
            conn.increment_flow_control_window(WINDOW_STEP, stream_id=stream_id)

    def on_request(self, stream_id: int) -> None:
        server = self.server
        self.streams_seen += 1
        if server.fault is Fault.RST_STREAM and self.streams_seen % RESET_EVERY == 0:
            self.conn.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
            server.resets_sent += 1
            return
        if server.fault is Fault.ONE_STREAM:
            # Answer a little later, so a client over the limit would be caught in the act.
            task = asyncio.create_task(self.answer_later(stream_id))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)
            return
        self.answer(stream_id)

    async def answer_later(self, stream_id: int) -> None:
        await asyncio.sleep(0.005)
        with contextlib.suppress(h2.exceptions.ProtocolError):  # the client went away
            self.answer(stream_id)
            self.flush()

    def answer(self, stream_id: int) -> None:
        headers = [(b":status", b"200"), (b"content-length", b"%d" % len(BODY))]
        self.conn.send_headers(stream_id, headers)
        self.conn.send_data(stream_id, BODY, end_stream=True)
        self.server._count_answer(len(BODY))
        self.answered_here += 1
        if self.server.fault is Fault.GOAWAY and self.answered_here == GOAWAY_AFTER:
            self.conn.close_connection(last_stream_id=stream_id)
            self.gone_away = True
        changes_now = self.answered_here == SETTINGS_CHANGE_AFTER
        if self.server.fault is Fault.SETTINGS_CHANGE and changes_now:
            codes = h2.settings.SettingCodes
            self.conn.update_settings(
                {codes.MAX_CONCURRENT_STREAMS: 1, codes.INITIAL_WINDOW_SIZE: CHANGED_WINDOW}
            )
            self.server.settings_changes += 1

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)


def _status(fault: Fault) -> tuple[int, bytes]:
    return (503, b"Service Unavailable") if fault is Fault.STATUS_503 else (200, b"OK")


async def _write_big(writer: asyncio.StreamWriter, size: int) -> None:
    chunk = b"z" * _WRITE_CHUNK
    left = size
    while left > 0:
        part = chunk if left >= len(chunk) else chunk[:left]
        writer.write(part)
        left -= len(part)
        await writer.drain()


def tls_context(cert: str, key: str, alpn: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(alpn)
    return context
