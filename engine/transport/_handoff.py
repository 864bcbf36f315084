"""Handing finished responses to the tasks waiting for them, a bounded number per loop turn.

With thousands of connections nearly every socket is readable at each poll, so one turn of the
event loop wakes every waiting virtual user and lasts as long as serving all of them once (a
quarter of a second at 10,000): every timer (timeouts, the 1 Hz tick, the lag probe, the
console's controls) then runs that late. Waking at most `per_turn` tasks a turn keeps turns
short; the rest wait here in arrival order and the loop runs its timers in between. Below the
budget a response is handed over at once, as before. Latencies are unchanged in meaning: they
end when the virtual user resumes, which is what they measured when the loop did the queueing.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Any

PER_TURN = 256  # wake-ups per loop turn: ~10 ms of virtual-user work on one core

_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Handoff] = (
    weakref.WeakKeyDictionary()
)


class Handoff:
    """One per event loop (`handoff_for`): the responses of every connection on it."""

    # It keeps no reference to its loop: `handoff_for`'s weak map would then keep every loop.
    __slots__ = ("__weakref__", "_handed", "_queue", "_turn_pending", "per_turn")

    def __init__(self, per_turn: int = PER_TURN) -> None:
        self.per_turn = per_turn
        self._queue: deque[tuple[asyncio.Future[Any], Any]] = deque()
        self._handed = 0  # results set since the last turn began
        self._turn_pending = False  # `_next_turn` is scheduled

    @property
    def waiting(self) -> int:
        """Responses finished and not yet handed over."""
        return len(self._queue)

    def deliver(self, waiter: asyncio.Future[Any], result: Any) -> None:
        """Set `waiter`'s result now, or on a later turn once this one's budget is spent."""
        if self._handed < self.per_turn and not self._queue:
            self._handed += 1
            waiter.set_result(result)
        else:
            self._queue.append((waiter, result))
        if not self._turn_pending:
            self._turn_pending = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._turn_pending = False
        self._handed = 0
        queue = self._queue
        while queue and self._handed < self.per_turn:
            waiter, result = queue.popleft()
            if not waiter.done():  # its task was cancelled meanwhile
                self._handed += 1
                waiter.set_result(result)
        if self._handed:  # the tasks woken now run next turn: count that turn's from here
            self._turn_pending = True
            asyncio.get_running_loop().call_soon(self._next_turn)


def handoff_for(loop: asyncio.AbstractEventLoop) -> Handoff:
    handoff = _by_loop.get(loop)
    if handoff is None:
        handoff = _by_loop[loop] = Handoff()
    return handoff


async def take_turn() -> None:
    """Go on once the loop's hand-over budget allows (at once when this turn's is not spent):
    a thousand tasks started together then begin a budget's worth per turn."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    handoff_for(loop).deliver(waiter, None)
    await waiter
