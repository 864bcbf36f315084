"""AsyncHTTP2Connection against scripted server bytes (h2's server state machine in memory, no
sockets): flow control, SETTINGS changes, RST_STREAM, GOAWAY, one write per tick, and the
remembering HPACK path against hpack's own on the same byte streams."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import h2.errors
import h2.events
import h2.settings
import hpack
import httpx
import pytest

from loadscope.engine._config import CloseReason
from loadscope.engine.transport import from_httpx
from loadscope.engine.transport._errors import (
    EngineError,
    GoAway,
    HeaderTooLarge,
    PeerClosed,
    ProtocolError,
    StreamReset,
)
from loadscope.engine.transport._h2 import AsyncHTTP2Connection
from loadscope.engine.transport._h2_wire import new_h2_connection, new_lean_connection
from loadscope.engine.transport._wire import RawRequest, RawResponse

from .h2_backend import MemoryTransport, RecordingObserver, ScriptedH2Server

DEADLINE = 10.0  # wall-clock bound on a test's wait; none comes near it unless it hangs
Codes = h2.settings.SettingCodes


@pytest.fixture(params=["lean", "h2"])
def machine(request: pytest.FixtureRequest) -> str:
    """Every connection test runs on the lean state machine and on h2's."""
    return str(request.param)


async def connect(
    server: ScriptedH2Server, machine: str = "lean", max_header_size: int | None = None
) -> tuple[AsyncHTTP2Connection, MemoryTransport]:
    """`machine`: "lean" (the default), "h2" (h2 with remembering HPACK) or "h2-plain" (h2 with
    hpack's own encoder and decoder: the reference)."""
    built = {"lean": new_lean_connection, "h2": new_h2_connection}.get(machine)
    if machine == "h2-plain":
        built = functools.partial(new_h2_connection, remember_headers=False)
    assert built is not None, machine
    conn = AsyncHTTP2Connection(RecordingObserver(), "t", "http://test:80", machine=built())
    if max_header_size is not None:
        conn.max_header_size = max_header_size  # as the connector sets it, before the preface
    transport = MemoryTransport(server, conn)
    conn.connection_made(transport)
    await settle()
    return conn, transport


async def settle(ticks: int = 5) -> None:
    for _ in range(ticks):
        await asyncio.sleep(0)


def request(method: str = "GET", path: str = "/", body: bytes | None = None) -> RawRequest:
    return from_httpx(httpx.Request(method, f"http://test{path}", content=body))


async def bounded(awaitable: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(awaitable, DEADLINE)


async def test_a_get_gets_status_headers_body_and_trailers(machine: str) -> None:
    def respond(server: ScriptedH2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.respond(
                event.stream_id, 201, b"hello", [(b"x-a", b"1")], trailers=[(b"x-t", b"2")]
            )

    conn, _ = await connect(ScriptedH2Server(respond), machine)
    response: RawResponse = await bounded(conn.send(request(), None))
    assert (response.status, response.body, response.body_size) == (201, b"hello", 5)
    assert response.headers == [(b"x-a", b"1"), (b"x-t", b"2")]
    assert response.http_version == b"HTTP/2" and conn.in_flight == 0 and conn.requests == 1


async def test_every_upload_waiting_for_window_wakes_when_its_window_opens(machine: str) -> None:
    server = ScriptedH2Server(settings={Codes.INITIAL_WINDOW_SIZE: 0})
    conn, _ = await connect(server, machine)
    body = b"b" * 1000
    sends = [asyncio.ensure_future(conn.send(request("POST", body=body), None)) for _ in range(3)]
    await settle()
    assert not any(send.done() for send in sends) and server.body_bytes == {}
    for stream_id in (1, 3, 5):  # every stream's window opens in one batch of frames
        server.conn.increment_flow_control_window(len(body), stream_id=stream_id)
    server.send_now()
    responses = await bounded(asyncio.gather(*sends))
    assert [r.status for r in responses] == [200, 200, 200]
    assert server.body_bytes == {1: 1000, 3: 1000, 5: 1000}


async def test_a_settings_change_that_opens_the_window_wakes_waiting_uploads(machine: str) -> None:
    server = ScriptedH2Server(settings={Codes.INITIAL_WINDOW_SIZE: 0})
    conn, _ = await connect(server, machine)
    sends = [asyncio.ensure_future(conn.send(request("POST", body=b"x" * 500), None))]
    sends.append(asyncio.ensure_future(conn.send(request("POST", body=b"y" * 700), None)))
    await settle()
    server.conn.update_settings({Codes.INITIAL_WINDOW_SIZE: 65_535})  # no WINDOW_UPDATE at all
    server.send_now()
    responses = await bounded(asyncio.gather(*sends))
    assert [r.status for r in responses] == [200, 200]
    assert server.body_bytes == {1: 500, 3: 700}


async def test_rst_stream_fails_only_that_stream(machine: str) -> None:
    def respond(server: ScriptedH2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            if event.stream_id == 3:
                server.conn.reset_stream(3, h2.errors.ErrorCodes.REFUSED_STREAM)
            else:
                server.respond(event.stream_id, 200, b"ok")

    conn, _ = await connect(ScriptedH2Server(respond), machine)
    results = await bounded(
        asyncio.gather(*(conn.send(request(), None) for _ in range(3)), return_exceptions=True)
    )
    assert [r.status for r in results if isinstance(r, RawResponse)] == [200, 200]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], StreamReset)
    assert conn.usable and conn.in_flight == 0


async def test_goaway_fails_the_streams_it_did_not_take_and_closes_after_the_rest(
    machine: str,
) -> None:
    def respond(server: ScriptedH2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == 5:
            server.respond(1, 200, b"one")
            server.conn.close_connection(last_stream_id=3)  # stream 3 still owed an answer

    server = ScriptedH2Server(respond)
    conn, _ = await connect(server, machine)
    sends = [asyncio.ensure_future(conn.send(request(), None)) for _ in range(3)]
    await settle()
    assert not conn.usable
    first = await bounded(sends[0])
    assert first.body == b"one"
    with pytest.raises(GoAway) as refused:
        await bounded(sends[2])
    assert refused.value.unprocessed
    assert not sends[1].done()
    sends[1].cancel()
    await asyncio.gather(sends[1], return_exceptions=True)
    await settle()
    assert conn.closed and conn.observer.closed == [CloseReason.GOAWAY]  # type: ignore[attr-defined]


async def test_max_concurrent_streams_lowered_mid_connection_is_obeyed(machine: str) -> None:
    held: list[int] = []

    def hold(server: ScriptedH2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            held.append(event.stream_id)

    server = ScriptedH2Server(hold)
    conn, _ = await connect(server, machine)
    server.conn.update_settings({Codes.MAX_CONCURRENT_STREAMS: 1})
    server.send_now()
    await settle()
    assert conn.is_available()
    first = asyncio.ensure_future(conn.send(request(), None))
    await settle()
    assert held == [1] and not conn.is_available()
    server.respond(1, 200)
    server.send_now()
    await bounded(first)
    assert conn.is_available()


async def test_requests_started_in_one_tick_share_one_write(machine: str) -> None:
    held: list[int] = []

    def hold(server: ScriptedH2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            held.append(event.stream_id)

    server = ScriptedH2Server(hold)
    conn, transport = await connect(server, machine)
    before = transport.writes
    sends = [asyncio.ensure_future(conn.send(request(), None)) for _ in range(10)]
    await settle()
    assert transport.writes == before + 1 and len(held) == 10
    for stream_id in held:
        server.respond(stream_id, 204)
    server.send_now()
    assert [r.status for r in await bounded(asyncio.gather(*sends))] == [204] * 10


async def test_a_cancelled_request_resets_its_stream(machine: str) -> None:
    server = ScriptedH2Server(lambda server, event: None)  # never answers
    conn, _ = await connect(server, machine)
    send = asyncio.ensure_future(conn.send(request(), None))
    await settle()
    send.cancel()
    await asyncio.gather(send, return_exceptions=True)
    await settle()
    resets = [e for e in server.events if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(1, 0)]
    assert conn.in_flight == 0 and conn.is_available()


# -- the remembering HPACK path against hpack's own, on the same byte streams ----------------
def _varied(server: ScriptedH2Server, event: h2.events.Event) -> None:
    """Answers that fill, reuse and resize the dynamic table, with a reset and trailers."""
    if not isinstance(event, h2.events.StreamEnded):
        return
    sid = event.stream_id
    if sid == 9:
        server.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        return
    if sid == 13:
        server.conn.update_settings({Codes.HEADER_TABLE_SIZE: 128})  # the client's encoder
    headers = [(b"server", b"scripted"), (b"x-stream", b"%d" % (sid % 3))]
    if sid % 4 == 1:
        headers.append((b"date", b"second %d" % (sid // 8)))
    trailers = [(b"x-done", b"yes")] if sid == 11 else []
    server.respond(sid, 200 + sid % 2, b"body %d" % sid, headers, trailers)


Run = tuple[list[object], bytes, bytes, dict[int, str], list[object]]


async def _run_mixed(machine: str) -> Run:
    server = ScriptedH2Server(_varied)
    conn, _ = await connect(server, machine)
    results: list[object] = []
    for batch in range(3):
        requests = [
            request("GET", f"/items/{index % 2}") if index % 3 else request("POST", "/u", b"p")
            for index in range(4 + batch)
        ]
        for request_ in requests:
            request_.headers.append((b"x-batch", str(batch % 2).encode()))
        outcomes = await bounded(
            asyncio.gather(*(conn.send(r, None) for r in requests), return_exceptions=True)
        )
        results += [_outcome(o) for o in outcomes]
    states = _open_stream_states(conn)
    conn.close(CloseReason.SESSION_END)
    await settle()
    requests_seen = [_server_view(event) for event in server.events]
    return results, bytes(server.received), server.all_sent(), states, requests_seen


def _open_stream_states(conn: AsyncHTTP2Connection) -> dict[int, str]:
    states = {}
    for stream_id, stream in conn._h2.streams.items():
        state = getattr(stream, "state_machine", stream).state
        name = getattr(state, "name", state)
        if name != "CLOSED":
            states[stream_id] = str(name)
    return states


def _server_view(event: h2.events.Event) -> object:
    """What the server made of the client's bytes, event by event (not how they were framed)."""
    if isinstance(event, h2.events.RequestReceived):
        return ("request", event.stream_id, event.headers)
    if isinstance(event, h2.events.DataReceived):
        return ("data", event.stream_id, event.data)
    if isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
        return (type(event).__name__, event.stream_id)
    return None


def _outcome(outcome: object) -> object:
    if isinstance(outcome, RawResponse):
        return (outcome.status, outcome.headers, outcome.body, outcome.body_size)
    assert isinstance(outcome, EngineError)
    return (type(outcome).__name__, outcome.kind, str(outcome))


async def test_remembering_hpack_and_hpacks_own_see_the_same_bytes_and_give_the_same_results() -> (
    None
):
    plain = await _run_mixed("h2-plain")
    remembering = await _run_mixed("h2")
    results, client_bytes, server_bytes, states, _ = remembering
    assert results == plain[0]
    assert client_bytes == plain[1], "the client wrote different bytes"
    assert server_bytes == plain[2], "the server answered with different bytes"
    assert states == plain[3]
    assert any(r[0] == "StreamReset" for r in results if isinstance(r, tuple))
    assert sum(1 for r in results if isinstance(r, tuple) and r[0] in (200, 201)) >= 10


def _hpack_calls(monkeypatch: pytest.MonkeyPatch, decoder: object) -> Callable[[], int]:
    """How often hpack's own decoding runs for `decoder` from now on."""
    calls = 0
    decode = hpack.Decoder.decode

    def counting(self: hpack.Decoder, data: bytes, raw: bool = False) -> object:
        nonlocal calls
        calls += self is decoder
        return decode(self, data, raw)

    monkeypatch.setattr(hpack.Decoder, "decode", counting)
    return lambda: calls


async def test_the_lean_machine_and_h2_give_the_same_responses_errors_and_states() -> None:
    reference = await _run_mixed("h2-plain")
    results, _, _, states, seen = await _run_mixed("lean")
    assert results == reference[0]
    assert states == reference[3] == {}
    # The server read the same requests, bodies and resets from both (framing may differ:
    # the lean machine returns flow-control window on its own schedule).
    assert [view for view in seen if view] == [view for view in reference[4] if view]


async def test_repeated_response_headers_are_decoded_once(
    monkeypatch: pytest.MonkeyPatch, machine: str
) -> None:
    def literal(server: ScriptedH2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):
            server.respond(event.stream_id, 200, b"ok", [(b"server", b"s")])

    server = ScriptedH2Server(literal)
    server.conn.encoder.header_table_size = 0  # as nginx does: nothing enters the table
    conn, _ = await connect(server, machine)
    calls = _hpack_calls(monkeypatch, conn._h2.decoder)
    for _ in range(5):
        response = await bounded(conn.send(request(), None))
        assert response.headers == [(b"server", b"s")]
    assert calls() == 2  # the first carried the table size update


def _big_headers(size: int) -> Callable[[ScriptedH2Server, h2.events.Event], None]:
    """Stream 1 is answered with a header block of about `size` bytes; later ones wait."""

    def respond(server: ScriptedH2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == 1:
            server.respond(1, 200, b"ok", [(b"x-big", b"v" * size)])

    return respond


def _goaways(server: ScriptedH2Server) -> list[object]:
    return [e.error_code for e in server.events if isinstance(e, h2.events.ConnectionTerminated)]


async def test_response_headers_over_max_header_size_fail_the_request_and_close(
    machine: str,
) -> None:
    server = ScriptedH2Server(_big_headers(5_000))
    conn, _ = await connect(server, machine, max_header_size=1_000)
    with pytest.raises(HeaderTooLarge) as failed:
        await bounded(conn.send(request(), None))
    assert failed.value.kind == "header_too_large" and "1000 bytes" in str(failed.value)
    await settle()
    assert conn.closed and conn.observer.closed == [CloseReason.ERROR]  # type: ignore[attr-defined]
    assert _goaways(server) == [h2.errors.ErrorCodes.ENHANCE_YOUR_CALM]
    advertised = [e for e in server.events if isinstance(e, h2.events.RemoteSettingsChanged)]
    assert advertised[0].changed_settings[Codes.MAX_HEADER_LIST_SIZE].new_value == 1_000


async def test_response_headers_under_max_header_size_pass(machine: str) -> None:
    server = ScriptedH2Server(_big_headers(500))
    conn, _ = await connect(server, machine, max_header_size=1_000)
    response = await bounded(conn.send(request(), None))
    assert response.status == 200 and conn.usable and _goaways(server) == []


async def test_only_the_stream_with_the_big_header_block_is_header_too_large() -> None:
    server = ScriptedH2Server(_big_headers(5_000))
    conn, _ = await connect(server, "lean", max_header_size=1_000)
    sends = [asyncio.ensure_future(conn.send(request(), None)) for _ in range(2)]
    results = await bounded(asyncio.gather(*sends, return_exceptions=True))
    assert isinstance(results[0], HeaderTooLarge)
    assert isinstance(results[1], PeerClosed) and not isinstance(results[1], HeaderTooLarge)


MALFORMED_STATUSES = [b"9999999999", b"20", b"2000", b"+20", b"20x", b"099", "٢٠٠".encode()]


@pytest.mark.parametrize("status", MALFORMED_STATUSES)
async def test_a_status_that_is_not_three_ascii_digits_is_a_protocol_error_of_its_stream(
    machine: str, status: bytes
) -> None:
    def respond(server: ScriptedH2Server, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.StreamEnded):  # h2 would refuse to send it
            server.conn.config.validate_outbound_headers = False
            server.conn.send_headers(event.stream_id, [(b":status", status)])

    server = ScriptedH2Server(respond)
    conn, _ = await connect(server, machine)
    with pytest.raises(ProtocolError) as failed:
        await bounded(conn.send(request(), None))
    assert failed.value.kind == "protocol_error" and "malformed response" in str(failed.value)
    await settle()
    resets = [e.error_code for e in server.events if isinstance(e, h2.events.StreamReset)]
    assert resets == [h2.errors.ErrorCodes.PROTOCOL_ERROR]
    assert conn.in_flight == 0 and conn.usable
