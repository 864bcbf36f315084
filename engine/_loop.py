"""One way to run a coroutine to completion: on uvloop where it is installed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
# Young objects allocated before the cyclic collector runs. A load run allocates a few objects
# per request and frees nearly all of them by reference counting; with thousands of virtual users
# the default (700) runs the collector hundreds of times a second, each pass walking the live
# requests, and at c=10,000 that doubled the time per request.
_GC_GEN0 = 50_000


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """uvloop when available, else asyncio's default loop. LOADSCOPE_LOOP=asyncio picks the
    standard loop on purpose, for comparisons."""
    with _load_friendly_gc():
        if os.environ.get("LOADSCOPE_LOOP") != "asyncio":
            try:
                import uvloop
            except ImportError:  # pragma: no cover - platforms without uvloop
                pass
            else:
                result: T = uvloop.run(main)
                return result
        return asyncio.run(main)


@contextlib.contextmanager
def _load_friendly_gc() -> Iterator[None]:
    """Everything alive now (modules, compiled runbooks) lives for the run: keep the collector
    off it (`gc.freeze`), and let it run less often; both undone afterwards."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], _GC_GEN0), thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
