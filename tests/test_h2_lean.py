"""The lean HTTP/2 state machine against h2's, sans I/O: the same requests sent, the same server
byte streams fed to both (well-formed and broken), the same events, stream states and errors."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from loadscope.engine.transport._h2_lean import LeanH2Connection, header_list_too_large
from loadscope.engine.transport._h2_wire import (
    BIG_WINDOW,
    LOCAL_SETTINGS,
    H2Machine,
    initiate,
    new_h2_connection,
    new_lean_connection,
)

REQUEST = [(b":method", b"GET"), (b":authority", b"t"), (b":scheme", b"http"), (b":path", b"/")]


def _machines() -> list[H2Machine]:
    return [new_h2_connection(remember_headers=False), new_lean_connection()]


def _open(machine: H2Machine, streams: int, body_on: int = 0) -> None:
    """The client side: preface, SETTINGS, then `streams` requests (one with a body)."""
    if isinstance(machine, h2.connection.H2Connection):  # as H2Wire.start sets it up
        machine.local_settings = h2.settings.Settings(client=True, initial_values=LOCAL_SETTINGS)
        machine.initiate_connection()
        machine.increment_flow_control_window(BIG_WINDOW)
    else:
        machine.initiate_connection()
    for index in range(streams):
        stream_id = machine.get_next_available_stream_id()
        body = index + 1 == body_on
        machine.send_headers(stream_id, REQUEST, end_stream=not body)
        if body:
            machine.send_data(stream_id, b"up", end_stream=False)
    machine.data_to_send()


def _view(event: h2.events.Event) -> object:
    if isinstance(event, h2.events.PriorityUpdated | h2.events.UnknownFrameReceived):
        return None
    if isinstance(event, h2.events.RemoteSettingsChanged):
        return ("settings", {int(k): v.new_value for k, v in event.changed_settings.items()})
    if isinstance(event, h2.events.ConnectionTerminated):
        return ("goaway", int(event.error_code or 0), event.last_stream_id)
    fields = ("stream_id", "data", "flow_controlled_length", "headers", "delta", "ping_data")
    values = tuple(getattr(event, name, None) for name in fields)
    code = getattr(event, "error_code", None)
    return (type(event).__name__, values, None if code is None else int(code))


def _feed(machine: H2Machine, chunks: list[bytes]) -> tuple[list[object], str | None]:
    events: list[object] = []
    for chunk in chunks:
        try:
            received = machine.receive_data(chunk)
        except h2.exceptions.ProtocolError:  # every subclass is the engine's protocol_error
            return events, "ProtocolError"
        events += [view for view in map(_view, received) if view is not None]
    return events, None


def _states(machine: H2Machine) -> dict[int, str]:
    states = {}
    for stream_id, stream in machine.streams.items():
        state = getattr(stream, "state_machine", stream).state
        name = getattr(state, "name", state)
        if name != "CLOSED":
            states[stream_id] = str(name)
    return states


def _bytes(frames: Iterable[Frame], split: int) -> list[bytes]:
    """The frames as bytes, cut every `split` bytes (0: one chunk per frame)."""
    data = [frame.serialize() for frame in frames]
    if not split:
        return data
    joined = b"".join(data)
    return [joined[at : at + split] for at in range(0, len(joined), split)]


def _headers(stream_id: int, encoder: hpack.Encoder, headers: list[tuple[bytes, bytes]],
             flags: Iterable[str] = ("END_HEADERS",)) -> HeadersFrame:  # fmt: skip
    frame = HeadersFrame(stream_id, flags=list(flags))
    frame.data = encoder.encode(headers)
    return frame


def _settings(**values: int) -> SettingsFrame:
    return SettingsFrame(0, settings={getattr(SettingsFrame, k): v for k, v in values.items()})


def _answers(encoder: hpack.Encoder) -> list[Frame]:
    status = [(b":status", b"200"), (b"server", b"s"), (b"content-length", b"5")]
    head = _headers(1, encoder, status)
    padded = DataFrame(1, data=b"hello", flags=["PADDED", "END_STREAM"])
    padded.pad_length = 3
    split_head = HeadersFrame(3, flags=["PADDED"])
    split_head.pad_length = 2
    block = encoder.encode([(b":status", b"204"), (b"x-long", b"v" * 40)])
    split_head.data = block[:10]
    rest = ContinuationFrame(3, flags=["END_HEADERS"])
    rest.data = block[10:]
    return [
        _settings(MAX_CONCURRENT_STREAMS=8, INITIAL_WINDOW_SIZE=1000, MAX_FRAME_SIZE=20_000),
        SettingsFrame(0, flags=["ACK"]),
        WindowUpdateFrame(0, window_increment=5000),
        WindowUpdateFrame(5, window_increment=7),
        head,
        padded,
        PriorityFrame(3, depends_on=0, stream_weight=16),
        split_head,
        rest,
        PingFrame(0, opaque_data=b"12345678"),
        _headers(5, encoder, [(b":status", b"100")]),
        _headers(5, encoder, [(b":status", b"200")]),
        DataFrame(5, data=b"part"),
        _headers(5, encoder, [(b"x-trailer", b"t")], ["END_HEADERS", "END_STREAM"]),
        _headers(7, encoder, [(b":status", b"200")]),
        RstStreamFrame(7, error_code=h2.errors.ErrorCodes.CANCEL),
        RstStreamFrame(3, error_code=8),
        GoAwayFrame(0, last_stream_id=9, error_code=0),
    ]


@pytest.mark.parametrize("split", [0, 1, 7, 64])
def test_well_formed_answers_give_the_same_events_and_states(split: int) -> None:
    outcomes = []
    for machine in _machines():
        _open(machine, streams=6, body_on=3)
        events, error = _feed(machine, _bytes(_answers(hpack.Encoder()), split))
        outcomes.append((events, error, _states(machine)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][1] is None and len(outcomes[1][0]) == 18
    assert outcomes[1][2] == {
        5: "HALF_CLOSED_REMOTE",
        9: "HALF_CLOSED_LOCAL",
        11: "HALF_CLOSED_LOCAL",
    }


def test_after_goaway_the_lean_machine_still_finishes_the_streams_the_server_kept() -> None:
    # The one difference, on purpose: h2 stops reading at GOAWAY (the engine then fails every
    # stream with `goaway`), while RFC 9113 6.8 lets streams up to the last id complete.
    encoder = hpack.Encoder()
    late = [_headers(9, encoder, [(b":status", b"200")], ["END_HEADERS", "END_STREAM"])]
    frames = [*_answers(encoder), *late]
    (h2_events, h2_error), (lean_events, lean_error) = [
        _feed(machine, _bytes(frames, 0)) for machine in _opened(streams=6, body_on=3)
    ]
    assert h2_error == "ProtocolError" and lean_error is None
    assert lean_events[:-2] == h2_events
    assert lean_events[-2:] == [
        ("ResponseReceived", (9, None, None, [(b":status", b"200")], None, None), None),
        ("StreamEnded", (9, None, None, None, None, None), None),
    ]


def _opened(streams: int, body_on: int = 0) -> list[H2Machine]:
    machines = _machines()
    for machine in machines:
        _open(machine, streams, body_on)
    return machines


def _raw(kind: int, flags: int, stream_id: int, body: bytes) -> bytes:
    """A frame as bytes, however wrong (hyperframe refuses to build the broken ones)."""
    return struct.pack(">HBBBL", len(body) >> 8, len(body) & 0xFF, kind, flags, stream_id) + body


def _broken(kind: str, encoder: hpack.Encoder) -> list[bytes]:
    status = encoder.encode([(b":status", b"200")])
    head = _raw(1, 0x4, 1, status)
    cases: dict[str, Callable[[], list[bytes]]] = {
        "data on stream 0": lambda: [_raw(0, 0, 0, b"x")],
        "headers on a stream never opened": lambda: [_raw(1, 0x4, 99, status)],
        "server push": lambda: [head, _raw(5, 0x4, 1, struct.pack(">L", 2))],
        "window update of 0": lambda: [_raw(8, 0, 0, struct.pack(">L", 0))],
        "continuation out of place": lambda: [_raw(9, 0x4, 1, status)],
        "interrupted header block": lambda: [_raw(1, 0, 1, status), _raw(0, 0, 1, b"")],
        "connection window overflow": lambda: [_raw(8, 0, 0, struct.pack(">L", 2**31 - 1))],
        "initial window over the limit": lambda: [_raw(4, 0, 0, struct.pack(">HL", 4, 2**31))],
        "frame over the size limit": lambda: [_raw(0, 0, 1, b"x" * 16_385)],
        "bad hpack": lambda: [_raw(1, 0x4, 1, b"\xff\xff\xff\xff")],
        "ping on a stream": lambda: [_raw(6, 0, 1, b"12345678")],
        "settings of the wrong size": lambda: [_raw(4, 0, 0, b"\x00\x01\x00")],
        "header list over the limit": lambda: _oversized(encoder),
    }
    acked = _raw(4, 0x1, 0, b"")  # the server took our SETTINGS (no push) first
    return [acked, *cases[kind]()]


def _oversized(encoder: hpack.Encoder) -> list[bytes]:
    """A header list over hpack's 64 KiB default, in HEADERS and CONTINUATION frames."""
    block = encoder.encode([(b":status", b"200"), (b"x-big", b"v" * 70_000)], huffman=False)
    parts = [block[at : at + 16_384] for at in range(0, len(block), 16_384)]
    frames = [_raw(1, 0, 1, parts[0])]
    frames += [_raw(9, 0x4 if part is parts[-1] else 0, 1, part) for part in parts[1:]]
    return frames


def test_a_header_list_over_the_limit_is_the_same_error_in_both() -> None:
    errors = []
    for machine in _opened(streams=1):
        try:
            for chunk in [_raw(4, 0x1, 0, b""), *_oversized(hpack.Encoder())]:
                machine.receive_data(chunk)
        except h2.exceptions.ProtocolError as exc:
            errors.append(type(exc))
    assert errors == [h2.exceptions.DenialOfServiceError] * 2


@pytest.mark.parametrize(
    "kind",
    [
        "data on stream 0",
        "headers on a stream never opened",
        "server push",
        "window update of 0",
        "continuation out of place",
        "interrupted header block",
        "connection window overflow",
        "initial window over the limit",
        "frame over the size limit",
        "bad hpack",
        "ping on a stream",
        "settings of the wrong size",
        "header list over the limit",
    ],
)
def test_broken_server_bytes_are_a_protocol_error_in_both(kind: str) -> None:
    results = []
    for machine in _machines():
        _open(machine, streams=1)
        events, error = _feed(machine, _broken(kind, hpack.Encoder()))
        results.append((events, error))
        assert error == "ProtocolError", (type(machine).__name__, events)
    assert results[0] == results[1]


def _limited(limit: int) -> list[H2Machine]:
    """Both machines started as a connection starts them, with `--max-header-size` `limit`."""
    machines = _machines()
    for machine in machines:
        initiate(machine, limit)
        machine.send_headers(machine.get_next_available_stream_id(), REQUEST, end_stream=True)
        machine.data_to_send()
    return machines


def _header_block(size: int, *, ended: bool = True, frame: int = 2_000) -> list[bytes]:
    """A literal header block of about `size` bytes on stream 1: HEADERS then CONTINUATION."""
    block = hpack.Encoder().encode([(b":status", b"200"), (b"x-big", b"v" * size)], huffman=False)
    parts = [block[at : at + frame] for at in range(0, len(block), frame)]
    last = 0x4 if ended else 0
    frames = [_raw(1, last if len(parts) == 1 else 0, 1, parts[0])]
    frames += [_raw(9, last if part is parts[-1] else 0, 1, part) for part in parts[1:]]
    return [_raw(4, 0x1, 0, b""), *frames]


@pytest.mark.parametrize("size", [3_000, 20_000])
def test_a_header_block_over_max_header_size_is_the_same_error_in_both(size: int) -> None:
    errors = []
    for machine in _limited(10_000):
        try:
            for chunk in _header_block(size):
                machine.receive_data(chunk)
        except h2.exceptions.ProtocolError as exc:
            errors.append((type(exc), header_list_too_large(exc)))
        else:
            errors.append((None, False))
    expected = (
        [(h2.exceptions.DenialOfServiceError, True)] * 2 if size > 10_000 else [(None, False)] * 2
    )
    assert errors == expected


def test_both_advertise_max_header_list_size() -> None:
    sent = []
    for machine in _machines():
        initiate(machine, 12_345)
        settings = machine.data_to_send()[24:]  # after the preface: the SETTINGS frame
        body = settings[9 : 9 + int.from_bytes(settings[:3], "big")]
        pairs = [struct.unpack_from(">HL", body, at) for at in range(0, len(body), 6)]
        sent.append(dict(pairs))
    assert sent[0] == sent[1] and sent[0][h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE] == 12_345


def test_the_lean_machine_stops_a_header_block_at_the_limit_before_it_ends() -> None:
    """A server that never ends its header block (CONTINUATION after CONTINUATION) is stopped
    once the raw bytes pass the limit: what is held stays under it, nothing is decoded."""
    machine = _limited(10_000)[1]
    assert isinstance(machine, LeanH2Connection)
    frames = _header_block(100_000, ended=False)
    fed = 0
    with pytest.raises(h2.exceptions.DenialOfServiceError) as stopped:
        for chunk in frames:
            machine.receive_data(chunk)
            fed += 1
    assert header_list_too_large(stopped.value) and machine.oversized_stream == 1
    assert fed <= 1 + 10_000 // 2_000 + 1  # the SETTINGS ACK, then frames up to the limit
    assert machine.data_to_send()[3:4] == b"\x07"  # a GOAWAY went out
