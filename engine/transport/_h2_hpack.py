"""HPACK with memory: header blocks that come out the same are encoded or decoded once.

A load test sends the same request headers over and over, and a server answers with the same few
header blocks. hpack's encoder and decoder are stateful (the dynamic table), so a block can be
reused only while that state is what it was: every change to a table (an entry added, a resize)
bumps its `generation`, and a remembered block is used only in the generation it was made in,
and only when making it changed nothing. h2 calls these exactly as it calls hpack's own classes,
so h2 keeps doing everything else; `tests/test_h2_hpack.py` checks both give the same bytes and
the same headers, step by step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import hpack
from hpack.table import HeaderTable

_MAX_REMEMBERED = 64  # blocks per table generation (a `date` header makes a new one per second)


class CountedTable(HeaderTable):
    """hpack's header table, counting its changes."""

    def __init__(self) -> None:
        super().__init__()
        self.generation = 0

    def add(self, name: bytes, value: bytes) -> None:
        was_empty = not self.dynamic_entries
        super().add(name, value)
        if self.dynamic_entries or not was_empty:  # a table of size 0 stays as it was
            self.generation += 1

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @maxsize.setter
    def maxsize(self, newmax: int) -> None:
        if newmax != self._maxsize:
            self.generation += 1
        HeaderTable.maxsize.fset(self, newmax)  # type: ignore[attr-defined]


class RememberingEncoder(hpack.Encoder):
    """From a header list's second encoding on, every entry is in the dynamic table, encoding it
    adds nothing and gives the same bytes: those bytes are kept until the table changes."""

    def __init__(self) -> None:
        super().__init__()
        self.header_table: CountedTable = CountedTable()
        self._blocks: dict[tuple[Any, ...], bytes] = {}
        self._generation = 0

    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        table = self.header_table
        if isinstance(headers, dict) or table.resized:
            return super().encode(headers, huffman)
        listed = tuple(headers)
        before = table.generation
        if before != self._generation:
            self._blocks.clear()
            self._generation = before
        key = (listed, huffman)
        block = self._blocks.get(key)
        if block is not None:
            return block
        block = super().encode(listed, huffman)
        if table.generation == before:
            if len(self._blocks) >= _MAX_REMEMBERED:
                self._blocks.clear()
            self._blocks[key] = block
        return block


class RememberingDecoder(hpack.Decoder):
    """A block decoded without changing the table decodes the same again in that generation, under
    the same limits: the header list is kept for it."""

    def __init__(self, max_header_list_size: int = hpack.hpack.DEFAULT_MAX_HEADER_LIST_SIZE):
        super().__init__(max_header_list_size)
        self.header_table: CountedTable = CountedTable()
        self._headers: dict[bytes, list[hpack.HeaderTuple]] = {}
        self._state: tuple[int, int, int, bool] = (0, 0, 0, False)

    def decode(self, data: bytes, raw: bool = False) -> list[hpack.HeaderTuple]:
        table = self.header_table
        state = (table.generation, self.max_header_list_size, self.max_allowed_table_size, raw)
        if state != self._state:
            self._headers.clear()
            self._state = state
        data = bytes(data)
        headers = self._headers.get(data)
        if headers is not None:
            return list(headers)
        headers = list(super().decode(data, raw))
        if table.generation == state[0]:
            if len(self._headers) >= _MAX_REMEMBERED:
                self._headers.clear()
            self._headers[data] = headers
        return list(headers)
