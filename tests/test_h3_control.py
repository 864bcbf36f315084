"""The HTTP/3 control-stream reader that finds the server's GOAWAY (aioquic drops its payload),
on scripted bytes: stream types, frames split anywhere, payloads skipped, other streams ignored."""

from __future__ import annotations

import pytest

from loadscope.engine.transport._h3_control import ControlStreamReader, read_varint

SETTINGS = bytes([0x04, 0x04, 0x01, 0x40, 0x64, 0x06])  # SETTINGS: QPACK table 100, ...
GOAWAY_40 = bytes([0x07, 0x01, 0x28])  # GOAWAY, stream 40
GOAWAY_16384 = bytes([0x07, 0x04, 0x80, 0x00, 0x40, 0x00])  # a 4-byte varint id
UNKNOWN_BIG = bytes([0x21, 0x44, 0x00]) + b"x" * 0x400  # a reserved frame type, 1 KiB payload
CONTROL = bytes([0x00])
QPACK_ENCODER = bytes([0x02])


@pytest.mark.parametrize(
    ("data", "value", "end"),
    [(b"\x25", 37, 1), (b"\x7b\xbd", 15293, 2), (b"\x9d\x7f\x3e\x7d", 494878333, 4)],
)
def test_varints_read_as_rfc_9000_spells_them(data: bytes, value: int, end: int) -> None:
    assert read_varint(data, 0) == (value, end)
    assert read_varint(data[:-1], 0) is None


def test_a_goaway_after_settings_and_a_big_unknown_frame_is_found() -> None:
    stream = CONTROL + SETTINGS + UNKNOWN_BIG + GOAWAY_40 + GOAWAY_16384
    assert ControlStreamReader().feed(3, stream) == [40, 16384]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 500])
def test_the_stream_split_anywhere_gives_the_same_goaways(size: int) -> None:
    stream = CONTROL + SETTINGS + UNKNOWN_BIG + GOAWAY_40 + GOAWAY_16384
    reader = ControlStreamReader()
    found = [
        id_ for at in range(0, len(stream), size) for id_ in reader.feed(3, stream[at : at + size])
    ]
    assert found == [40, 16384]


def test_streams_other_than_the_control_stream_are_ignored() -> None:
    reader = ControlStreamReader()
    assert reader.feed(7, QPACK_ENCODER + GOAWAY_40) == []  # looks like GOAWAY, is QPACK data
    assert reader.feed(7, GOAWAY_40) == []
    assert reader.feed(3, CONTROL + GOAWAY_40) == [40]
    assert reader.feed(11, CONTROL + GOAWAY_40) == []  # a second control stream is not read
