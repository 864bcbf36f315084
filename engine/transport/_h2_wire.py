"""The bytes side of an HTTP/2 connection: h2's client state machine, the transport under it,
one write per loop tick, and uploads that wait for flow-control window."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Protocol

import h2.config
import h2.connection
import h2.settings

from ._h2_hpack import RememberingDecoder, RememberingEncoder
from ._h2_lean import LeanH2Connection

BIG_WINDOW = 16 * 1024 * 1024
# Our SETTINGS, every one spelled out as h2 sends them (servers such as nginx choose how they
# use the HPACK table from what a client announces).
LOCAL_SETTINGS: dict[int, int] = {
    h2.settings.SettingCodes.HEADER_TABLE_SIZE: 4096,
    h2.settings.SettingCodes.ENABLE_PUSH: 0,
    h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: BIG_WINDOW,
    h2.settings.SettingCodes.MAX_FRAME_SIZE: 16_384,
    h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 0,
    h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
}
_H2_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    validate_inbound_headers=False,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
)


# The state machine under an HTTP/2 connection: h2's, or the lean one that speaks its interface.
H2Machine = h2.connection.H2Connection | LeanH2Connection


def new_lean_connection() -> LeanH2Connection:
    return LeanH2Connection(LOCAL_SETTINGS, connection_window=BIG_WINDOW)


def default_machine() -> H2Machine:
    """The lean machine; h2's own when the environment says `LOADSCOPE_H2=h2` (a way back if a
    server ever trips the lean one)."""
    if os.environ.get("LOADSCOPE_H2") == "h2":
        return new_h2_connection()
    return new_lean_connection()


def new_h2_connection(*, remember_headers: bool = True) -> h2.connection.H2Connection:
    """h2's client state machine; by default with HPACK that remembers repeated header blocks
    (`remember_headers=False` keeps hpack's own, for the differential tests)."""
    conn = h2.connection.H2Connection(config=_H2_CONFIG)
    if remember_headers:
        decoder = RememberingDecoder(conn.decoder.max_header_list_size)
        decoder.max_allowed_table_size = conn.decoder.max_allowed_table_size
        conn.encoder, conn.decoder = RememberingEncoder(), decoder
    return conn


def initiate(conn: H2Machine, max_header_size: int) -> None:
    """The client's preface and SETTINGS, with SETTINGS_MAX_HEADER_LIST_SIZE: the response
    header limit, advertised and enforced from the first frame."""
    if isinstance(conn, h2.connection.H2Connection):
        codes = {h2.settings.SettingCodes(k): v for k, v in LOCAL_SETTINGS.items()}
        codes[h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE] = max_header_size
        conn.local_settings = h2.settings.Settings(client=True, initial_values=codes)
        conn.decoder.max_header_list_size = max_header_size  # h2 sets it only once ACKed
        conn.initiate_connection()
        conn.increment_flow_control_window(BIG_WINDOW)
    else:
        conn.limit_header_list(max_header_size)  # otherwise built with the same settings
        conn.initiate_connection()


class _Owner(Protocol):
    bytes_sent: int
    max_header_size: int


class _Gone:
    """Where a detached wire counts: its connection has closed and let it go."""

    bytes_sent = 0
    max_header_size = 0


class H2Wire:
    """Writes what h2 has to send, at most once per loop tick (every stream started in a tick
    shares one `transport.write`), and counts them in its owner's `bytes_sent`."""

    __slots__ = ("_flush_pending", "_window_waiters", "conn", "loop", "owner", "transport")

    def __init__(self, conn: H2Machine, owner: _Owner) -> None:
        self.conn = conn
        self.owner: _Owner = owner
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._flush_pending = False
        # Uploads waiting for window, each on its own future: any WINDOW_UPDATE or SETTINGS
        # change wakes all of them and each reads its own window again.
        self._window_waiters: set[asyncio.Future[None]] = set()

    def start(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport, self.loop = transport, loop
        initiate(self.conn, self.owner.max_header_size)
        self.flush()

    def detach(self) -> None:
        """The connection has closed: let go of it and of its transport (each holds the other
        through this wire, a cycle per connection left to the cyclic collector)."""
        self.transport = None
        self.owner = _Gone()

    def flush_soon(self) -> None:
        if not self._flush_pending and self.loop is not None:
            self._flush_pending = True
            self.loop.call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush_pending = False
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        transport = self.transport
        if data and transport is not None and not transport.is_closing():
            self.owner.bytes_sent += len(data)
            transport.write(data)

    async def send_body(self, stream_id: int, body: bytes, stop: Callable[[], bool]) -> bool:
        """Send `body` as the window allows; False if `stop()` turned true on the way (the
        stream was answered, reset or abandoned, or the connection closed)."""
        conn = self.conn
        view = memoryview(body)
        while view:
            if stop():
                return False
            window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            if window <= 0:
                self.flush()
                await self._window_opened()
                continue
            chunk, view = view[:window], view[window:]
            conn.send_data(stream_id, bytes(chunk), end_stream=not view)
        return True

    async def _window_opened(self) -> None:
        assert self.loop is not None
        waiter = self.loop.create_future()
        self._window_waiters.add(waiter)
        try:
            await waiter
        finally:
            self._window_waiters.discard(waiter)

    def wake_senders(self) -> None:
        for waiter in self._window_waiters:
            if not waiter.done():
                waiter.set_result(None)
