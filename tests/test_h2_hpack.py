"""The remembering HPACK encoder and decoder against hpack's own, fed the same sequences: the
same bytes out of the encoders and the same header lists (or errors) out of the decoders at every
step, whatever the dynamic table does in between."""

from __future__ import annotations

import random

import hpack
import pytest

from loadscope.engine.transport._h2_hpack import RememberingDecoder, RememberingEncoder

Headers = list[tuple[bytes, bytes]]

GET: Headers = [
    (b":method", b"GET"),
    (b":authority", b"127.0.0.1:8080"),
    (b":scheme", b"http"),
    (b":path", b"/"),
    (b"user-agent", b"loadscope"),
]
POST: Headers = [*GET[:3], (b":path", b"/items"), (b"content-type", b"application/json")]
RESPONSE: Headers = [
    (b":status", b"200"),
    (b"server", b"nginx"),
    (b"date", b"Mon, 07 Dec 2026 04:00:00 GMT"),
    (b"content-length", b"2"),
]


def _sequence(seed: int, length: int = 300) -> list[Headers | int]:
    """Header lists, mostly repeated, with new values and table resizes (ints) in between."""
    rng = random.Random(seed)
    steps: list[Headers | int] = []
    for index in range(length):
        roll = rng.random()
        if roll < 0.05:
            steps.append(rng.choice([0, 64, 256, 4096]))
        elif roll < 0.2:
            steps.append([*GET, (b"x-request", str(index).encode())])
        elif roll < 0.25:
            steps.append([*RESPONSE[:2], (b"date", b"second %d" % (index // 10))])
        else:
            steps.append(rng.choice([GET, POST, RESPONSE]))
    return steps


@pytest.mark.parametrize("seed", range(6))
def test_encoder_gives_hpacks_bytes_at_every_step(seed: int) -> None:
    plain, remembering = hpack.Encoder(), RememberingEncoder()
    for step in _sequence(seed):
        if isinstance(step, int):
            plain.header_table_size = remembering.header_table_size = step
            continue
        huffman = bool(seed % 2)
        assert remembering.encode(list(step), huffman) == plain.encode(list(step), huffman)


@pytest.mark.parametrize("seed", range(6))
def test_decoder_gives_hpacks_headers_at_every_step(seed: int) -> None:
    encoder = hpack.Encoder()
    plain, remembering = hpack.Decoder(), RememberingDecoder()
    for step in _sequence(seed):
        if isinstance(step, int):
            encoder.header_table_size = step  # announced in the next block
            continue
        block = encoder.encode(step)
        expected = plain.decode(block, raw=True)
        assert remembering.decode(block, raw=True) == expected
        assert remembering.header_table.dynamic_entries == plain.header_table.dynamic_entries


def test_a_block_that_reads_the_table_is_decoded_again_after_the_table_changes() -> None:
    encoder = hpack.Encoder()
    remembering, plain = RememberingDecoder(), hpack.Decoder()
    first = encoder.encode([(b"x-a", b"1")])
    for decoder in (remembering, plain):
        decoder.decode(first, raw=True)
    # Encoded once more: the header is now an index into the dynamic table.
    indexed = encoder.encode([(b"x-a", b"1")])
    assert remembering.decode(indexed, raw=True) == plain.decode(indexed, raw=True)
    # A new entry shifts every dynamic index by one: the same bytes now name x-b.
    second = encoder.encode([(b"x-b", b"2")])
    for decoder in (remembering, plain):
        decoder.decode(second, raw=True)
    assert plain.decode(indexed, raw=True) == [(b"x-b", b"2")]
    assert remembering.decode(indexed, raw=True) == [(b"x-b", b"2")]


def test_a_remembered_block_still_obeys_a_lowered_header_list_limit() -> None:
    # Never indexed: decoding it leaves the table as it was, so it is remembered.
    block = hpack.Encoder().encode([hpack.NeverIndexedHeaderTuple(b"x-long", b"v" * 200)])
    plain, remembering = hpack.Decoder(), RememberingDecoder()
    for _ in range(2):
        assert remembering.decode(block, raw=True) == plain.decode(block, raw=True)
    plain.max_header_list_size = remembering.max_header_list_size = 100
    with pytest.raises(hpack.OversizedHeaderListError):
        plain.decode(block, raw=True)
    with pytest.raises(hpack.OversizedHeaderListError):
        remembering.decode(block, raw=True)


def test_the_same_block_is_decoded_once_while_the_table_stands_still() -> None:
    encoder = hpack.Encoder()
    encoder.header_table_size = 0  # as nginx does: literals, nothing kept
    decoder = RememberingDecoder()
    first = encoder.encode(RESPONSE)
    decoder.decode(first, raw=True)  # carries the table size update
    block = encoder.encode(RESPONSE)
    calls = 0
    decode = hpack.Decoder.decode

    def counting(self: hpack.Decoder, data: bytes, raw: bool = False) -> object:
        nonlocal calls
        calls += 1
        return decode(self, data, raw)

    hpack.Decoder.decode = counting  # type: ignore[method-assign]
    try:
        results = [decoder.decode(block, raw=True) for _ in range(5)]
    finally:
        hpack.Decoder.decode = decode  # type: ignore[method-assign]
    assert calls == 1
    assert all(result == RESPONSE for result in results)
