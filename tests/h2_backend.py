"""An in-memory backend for HTTP/2 connection tests: no sockets, the peer is h2's server-side
state machine, and the test scripts what it answers (in the spirit of httpcore's mock backend).

`MemoryTransport` stands in for the asyncio transport: what the client writes goes straight into
the `ScriptedH2Server`, and what the server sends is delivered to the client's `data_received` on
the next loop tick, as a socket would. Everything either side sent is kept, in order, for tests
that compare byte streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings

from loadscope.engine._config import CloseReason

Respond = Callable[["ScriptedH2Server", h2.events.Event], None]


def answer_ok(server: ScriptedH2Server, event: h2.events.Event) -> None:
    """The default script: every request, once its END_STREAM arrives, gets `200 ok`."""
    if isinstance(event, h2.events.StreamEnded):
        server.respond(event.stream_id, 200, b"ok")


class ScriptedH2Server:
    """h2's server state machine in memory. `respond(server, event)` is called for every event
    the client's bytes produce; `settings` are the server's first SETTINGS."""

    def __init__(
        self, respond: Respond = answer_ok, settings: dict[int, int] | None = None
    ) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.local_settings = h2.settings.Settings(client=False, initial_values=settings or {})
        self.conn.initiate_connection()
        self.script = respond
        self.events: list[h2.events.Event] = []
        self.received = bytearray()  # every byte the client sent
        self.sent: list[bytes] = []  # every chunk the server sent, in order
        self.client: asyncio.Protocol | None = None
        self.body_bytes: dict[int, int] = {}

    def from_client(self, data: bytes) -> None:
        self.received += data
        for event in self.conn.receive_data(data):
            self.events.append(event)
            if isinstance(event, h2.events.DataReceived):
                self.body_bytes[event.stream_id] = (
                    self.body_bytes.get(event.stream_id, 0) + event.flow_controlled_length
                )
            self.script(self, event)
        self.send_now()

    def respond(
        self,
        stream_id: int,
        status: int,
        body: bytes = b"",
        headers: Iterable[tuple[bytes, bytes]] = (),
        trailers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        head = [(b":status", str(status).encode()), *headers]
        trailer_list = list(trailers)
        self.conn.send_headers(stream_id, head, end_stream=not body and not trailer_list)
        if body:
            self.conn.send_data(stream_id, body, end_stream=not trailer_list)
        if trailer_list:
            self.conn.send_headers(stream_id, trailer_list, end_stream=True)

    def send_now(self) -> None:
        """Hand what the server has to send to the client, on the next loop tick."""
        data = self.conn.data_to_send()
        if data and self.client is not None:
            self.sent.append(data)
            asyncio.get_running_loop().call_soon(self.client.data_received, data)

    def all_sent(self) -> bytes:
        return b"".join(self.sent)


class MemoryTransport(asyncio.Transport):
    """The client's transport: writes go to the server, close reports the loss on the next
    tick. `writes` counts the client's `write` calls."""

    def __init__(self, server: ScriptedH2Server, client: asyncio.Protocol) -> None:
        super().__init__()
        self.server = server
        self.client = client
        server.client = client
        self.writes = 0
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        self.writes += 1
        self.server.from_client(bytes(data))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            asyncio.get_running_loop().call_soon(self.client.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class RecordingObserver:
    """A `ConnectionObserver` that only counts what it is told."""

    def __init__(self) -> None:
        self.connecting = 0
        self.opened = 0
        self.closed: list[CloseReason] = []
        self.active = 0
        self.idle = 0

    def on_open(self, conn: object) -> None:
        self.opened += 1

    def on_lost_before_open(self, reason: CloseReason) -> None:
        self.closed.append(reason)

    def on_active(self) -> None:
        self.active += 1

    def on_idle(self) -> None:
        self.idle += 1

    def on_keepalive_hint(self, seconds: float) -> None:
        pass

    def on_close(self, conn: object, reason: CloseReason) -> None:
        self.closed.append(reason)

    def live_connections(self) -> list[object]:
        return []
