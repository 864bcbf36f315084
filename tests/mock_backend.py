"""An in-memory network for transport tests: no sockets, the peer's bytes scripted.

In the spirit of httpcore's `AsyncMockBackend`: a `MockNetwork` hands the engine's connector one
`MockTransport` per connection, each driven by a peer. A peer sees every write the client makes
and answers with what it returns:

- `ScriptedPeer(*answers)` answers the client's n-th write with `answers[n]`: bytes, a list of
  byte chunks (each its own `data_received`), `CLOSE` (the peer closes), `RESET` (it resets),
  `SILENT` (it says nothing; the request times out), or a list mixing chunks with CLOSE/RESET;
- any object with `received(data) -> list[bytes | Event]` (and optionally `connected()`) can be a
  peer: an HTTP/2 test wraps a server-side `h2.connection.H2Connection` this way (`H2Peer`).

    network = MockNetwork(ScriptedPeer(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"))
    runner = Runner(RunnerConfig(name="t", base_url="http://127.0.0.1:8080"), SessionConfig(),
                    ConnectionLedger(), network=network)

Deliveries run on the loop's next turns, in order, as a socket's would.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import h2.config
import h2.connection
import h2.events
import h2.settings


class Event(enum.Enum):
    CLOSE = "close"  # the peer closes its side cleanly (connection_lost(None))
    RESET = "reset"  # the peer resets the connection (connection_lost(ConnectionResetError))
    SILENT = "silent"  # no answer to this write


CLOSE, RESET, SILENT = Event.CLOSE, Event.RESET, Event.SILENT
Answer = bytes | Event | Sequence[bytes | Event]


class Peer(Protocol):
    def received(self, data: bytes) -> list[bytes | Event]: ...


class ScriptedPeer:
    """Answers the client's writes in order from a script."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []  # each write the client made

    def received(self, data: bytes) -> list[bytes | Event]:
        self.requests.append(data)
        if not self.answers:
            return [SILENT]
        answer = self.answers.pop(0)
        if isinstance(answer, bytes | Event):
            return [answer]
        return list(answer)


class MockTransport(asyncio.Transport):
    """One in-memory connection: records what the client writes, delivers what the peer says."""

    def __init__(self, network: MockNetwork, peer: Peer, port: int) -> None:
        super().__init__()
        self._network = network
        self.peer = peer
        self.port = port
        self.written: list[bytes] = []
        self.closed = False
        self.aborted = False
        self._protocol: asyncio.BaseProtocol | None = None
        self._lost = False
        self._loop = asyncio.get_running_loop()

    # -- what the connection calls ------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            return
        chunk = bytes(data)
        self.written.append(chunk)
        self._deliver(self.peer.received(chunk))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._loop.call_soon(self._connection_lost, None)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def get_extra_info(self, name: str, default: object = None) -> object:
        if name == "sockname":
            return ("127.0.0.1", self.port)
        if name == "peername":
            return ("127.0.0.1", 80)
        return default

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def is_reading(self) -> bool:
        return not self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    # -- the peer's side ----------------------------------------------------------------------
    def push(self, *items: bytes | Event) -> None:
        """The peer says something unprompted (bytes on an idle connection, a late close)."""
        self._deliver(items)

    def _deliver(self, items: Iterable[bytes | Event]) -> None:
        for item in items:
            self._loop.call_soon(self._arrive, item)

    def _arrive(self, item: bytes | Event) -> None:
        if self._lost:
            return
        if item is SILENT:
            return
        if item is CLOSE:
            self.closed = True
            self._connection_lost(None)
        elif item is RESET:
            self.closed = True
            self._connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        elif isinstance(item, bytes) and not self.closed:
            self._network.bytes_delivered += len(item)
            self.get_protocol().data_received(item)  # type: ignore[attr-defined]

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self.get_protocol().connection_lost(exc)


class MockNetwork:
    """The engine's `Network`: each new connection gets the next peer; with none left, the
    connection is refused."""

    def __init__(self, *peers: Peer) -> None:
        self.peers = list(peers)
        self.transports: list[MockTransport] = []
        self.bytes_delivered = 0
        self._next_port = 40000

    def add(self, *peers: Peer) -> None:
        self.peers.extend(peers)

    async def connect_tcp(
        self, host: str, port: int, protocol: Callable[[], asyncio.Protocol]
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        await asyncio.sleep(0)  # a connect is never synchronous
        if not self.peers:
            raise ConnectionRefusedError(111, "Connection refused")
        self._next_port += 1
        transport = MockTransport(self, self.peers.pop(0), self._next_port)
        made = protocol()
        transport.set_protocol(made)
        made.connection_made(transport)
        connected = getattr(transport.peer, "connected", None)
        if connected is not None:
            transport._deliver(connected())
        self.transports.append(transport)
        return transport, made

    @property
    def opened(self) -> int:
        return len(self.transports)

    @property
    def closed(self) -> int:
        return sum(1 for t in self.transports if t.closed)


class H2Peer:
    """An HTTP/2 server peer (h2c, prior knowledge) on h2's server-side state machine: it
    answers every request with `status` and `body`, and records each request's headers.

    `max_streams` is the SETTINGS_MAX_CONCURRENT_STREAMS it announces."""

    def __init__(self, status: int = 200, body: bytes = b"ok", *, max_streams: int = 100) -> None:
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self._h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_streams},
        )
        self._h2.initiate_connection()  # its SETTINGS go out with the first answer
        self.status = status
        self.body = body
        self.requests: list[list[tuple[bytes, bytes]]] = []

    def received(self, data: bytes) -> list[bytes | Event]:
        for event in self._h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.requests.append(list(event.headers or []))
            if isinstance(event, h2.events.StreamEnded):
                self._answer(event.stream_id)
        return [self._h2.data_to_send()]

    def _answer(self, stream_id: int) -> None:
        length = str(len(self.body)).encode()
        headers = [(b":status", str(self.status).encode()), (b"content-length", length)]
        self._h2.send_headers(stream_id, headers, end_stream=not self.body)
        if self.body:
            self._h2.send_data(stream_id, self.body, end_stream=True)


def response(
    status: int = 200,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    *,
    length: bool = True,
) -> bytes:
    """An HTTP/1.1 response's bytes (Content-Length unless `length` is False)."""
    reason = {200: "OK", 204: "No Content", 404: "Not Found", 500: "Internal Server Error"}
    lines = [f"HTTP/1.1 {status} {reason.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(status: int, *chunks: bytes) -> bytes:
    head = f"HTTP/1.1 {status} OK\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return head + body + b"0\r\n\r\n"
