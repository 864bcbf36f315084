"""One way to run a coroutine to completion: on uvloop where it is installed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """uvloop when available, else asyncio's default loop. LOADSCOPE_LOOP=asyncio picks the
    standard loop on purpose, for comparisons."""
    if os.environ.get("LOADSCOPE_LOOP") != "asyncio":
        try:
            import uvloop
        except ImportError:  # pragma: no cover - platforms without uvloop
            pass
        else:
            result: T = uvloop.run(main)
            return result
    return asyncio.run(main)
