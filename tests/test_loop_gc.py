"""The cyclic collector during a run: off, and run by `HeapWatch` once the heap has grown."""

from __future__ import annotations

import gc
import weakref

from loadscope.engine._loop import HeapWatch, run_event_loop


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_a_run_has_no_automatic_collections_and_gets_them_back_after() -> None:
    async def main() -> bool:
        return gc.isenabled()

    assert gc.isenabled()
    assert run_event_loop(main()) is False
    assert gc.isenabled()


def test_cycles_are_collected_once_the_heap_passes_the_limit() -> None:
    watch = HeapWatch(min_growth=10)
    gc.disable()
    try:
        node = Node()
        alive = weakref.ref(node)
        del node
        assert not watch.check(watch.limit)  # at the limit: nothing runs
        assert alive() is not None
        assert watch.check(watch.limit + 1)
        assert alive() is None and watch.collections == 1
    finally:
        gc.enable()


def test_the_limit_is_double_the_heap_or_the_least_growth_above_it() -> None:
    watch = HeapWatch(min_growth=1_000)
    assert watch._limit_after(100) == 1_100
    assert watch._limit_after(5_000) == 10_000
