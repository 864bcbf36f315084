"""Request timeouts on one coarse wheel per loop (`Deadlines`), not a timer per request."""

from __future__ import annotations

import asyncio
import time

from loadscope.engine.transport._deadlines import Deadlines

from .mock_backend import SILENT, ScriptedPeer
from .test_transport_h1 import Client


class Item:
    def __init__(self, timeout: float) -> None:
        self.armed_at = time.monotonic()
        self.timeout = timeout
        self.expired_at = 0.0

    def expire(self) -> None:
        self.expired_at = time.monotonic()


async def until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.01)


async def test_an_armed_item_expires_not_before_its_deadline() -> None:
    deadlines = Deadlines(resolution=0.02)
    item = Item(0.05)
    deadlines.arm(item, item.timeout)
    await until(lambda: item.expired_at)
    assert item.expired_at >= item.armed_at + item.timeout
    assert len(deadlines) == 0


async def test_a_disarmed_item_never_expires_and_nothing_stays_armed() -> None:
    deadlines = Deadlines(resolution=0.02)
    kept, dropped = Item(0.05), Item(0.05)
    deadlines.arm(kept, kept.timeout)
    deadlines.disarm(dropped, deadlines.arm(dropped, dropped.timeout))
    await until(lambda: kept.expired_at)
    assert kept.expired_at and not dropped.expired_at
    await until(lambda: deadlines._tick is None)
    assert deadlines._tick is None and len(deadlines) == 0  # no timer left holding the loop


async def test_a_shorter_deadline_armed_after_a_long_one_is_not_held_up() -> None:
    deadlines = Deadlines(resolution=0.02)
    deadlines.arm(Item(60.0), 60.0)
    short = Item(0.05)
    deadlines.arm(short, short.timeout)
    await until(lambda: short.expired_at)
    assert short.expired_at and len(deadlines) == 1


async def test_an_http1_request_arms_no_loop_timer_of_its_own_and_still_times_out() -> None:
    client = Client(ScriptedPeer(SILENT), ScriptedPeer(SILENT))
    loop = asyncio.get_running_loop()
    waiting = asyncio.ensure_future(client.get(timeout=30.0))
    await until(lambda: client.network.opened)
    await asyncio.sleep(0.01)

    def timers_for_the_request() -> list[asyncio.TimerHandle]:
        scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])  # asyncio's loop
        return [h for h in scheduled if not h.cancelled() and h.when() - loop.time() > 20]

    assert not timers_for_the_request()
    waiting.cancel()
    assert await client.error_kind(timeout=0.05) == "timeout"
    await client.close()
