"""Responses handed to waiting tasks a bounded number per loop turn (`Handoff`), and HTTP/1.1
responses that finished while waiting for their hand-over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from loadscope.engine.transport import Handoff, handoff_for, take_turn
from loadscope.engine.transport._handoff import _by_loop

from .mock_backend import RESET, ScriptedPeer, response
from .test_transport_h1 import Client


@pytest.fixture
async def held() -> AsyncIterator[Handoff]:
    """This loop's hand-over holds every response until `release` (a budget of 0 a turn)."""
    loop = asyncio.get_running_loop()
    previous = _by_loop.get(loop)
    handoff = _by_loop[loop] = Handoff(per_turn=0)
    yield handoff
    if previous is None:
        _by_loop.pop(loop, None)
    else:
        _by_loop[loop] = previous


async def release(handoff: Handoff) -> None:
    handoff.per_turn = 256
    nudge = asyncio.get_running_loop().create_future()
    handoff.deliver(nudge, None)  # the next turn hands over what waits
    await nudge


async def turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_at_most_the_budget_is_handed_over_per_turn_in_order() -> None:
    loop = asyncio.get_running_loop()
    handoff = Handoff(per_turn=2)
    waiters = [loop.create_future() for _ in range(5)]
    for n, waiter in enumerate(waiters):
        handoff.deliver(waiter, n)
    assert [w.done() for w in waiters] == [True, True, False, False, False]
    assert handoff.waiting == 3
    await asyncio.sleep(0)  # the next turn: two more
    assert [w.done() for w in waiters] == [True, True, True, True, False]
    await asyncio.sleep(0)
    assert [w.result() for w in waiters] == [0, 1, 2, 3, 4] and handoff.waiting == 0


async def test_a_waiter_cancelled_in_the_queue_is_skipped_and_costs_no_budget() -> None:
    loop = asyncio.get_running_loop()
    handoff = Handoff(per_turn=1)
    first, cancelled, last = (loop.create_future() for _ in range(3))
    for waiter in (first, cancelled, last):
        handoff.deliver(waiter, "r")
    cancelled.cancel()
    await asyncio.sleep(0)
    assert last.done() and last.result() == "r"


async def test_take_turn_lets_a_budget_of_tasks_on_per_turn() -> None:
    loop = asyncio.get_running_loop()
    handoff = handoff_for(loop)
    saved, handoff.per_turn = handoff.per_turn, 2
    passed: list[int] = []

    async def one(n: int) -> None:
        await take_turn()
        passed.append(n)

    try:
        await asyncio.sleep(0)  # a fresh turn: nothing handed over yet
        tasks = [loop.create_task(one(n)) for n in range(5)]
        await asyncio.sleep(0)  # each task runs its first step: two go on
        assert passed == [0, 1]
        await asyncio.gather(*tasks)
        assert passed == [0, 1, 2, 3, 4]
    finally:
        handoff.per_turn = saved


async def test_a_response_held_for_its_hand_over_outlives_its_timeout(held: Handoff) -> None:
    client = Client(ScriptedPeer(response(200, b"ok")))
    request = client.runner.build_request("GET", "/")
    exchange = asyncio.ensure_future(client.runner.shared.exchange(request, 0.01))
    while not held.waiting:  # answered in full, held
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)  # past its timeout (the timer runs before this sleep ends)
    await release(held)
    raw = await exchange
    assert raw.status == 200 and raw.body == b"ok"
    assert client.ledger.closed_total == 0  # the timeout did not close it
    await client.close()


async def test_a_reset_after_a_complete_response_does_not_fail_it(held: Handoff) -> None:
    client = Client(ScriptedPeer([response(200, b"ok"), RESET]))
    request = client.runner.build_request("GET", "/")
    exchange = asyncio.ensure_future(client.runner.shared.exchange(request, 5.0))
    while not held.waiting:
        await asyncio.sleep(0)
    await turns(5)  # the reset lands while the response waits
    await release(held)
    raw = await exchange
    assert raw.status == 200 and raw.body == b"ok"
    await client.close()


class Host:
    """Just enough of a session for closed-model VUs that end at their first look."""

    def __init__(self) -> None:
        self.looks = 0
        self.reuse_mode = None

    @property
    def accepting(self) -> bool:
        self.looks += 1
        return False

    def log_once(self, key: str, message: str) -> None:
        raise AssertionError(message)


async def test_closed_model_vus_begin_within_the_turn_budget(held: Handoff) -> None:
    from loadscope.engine._config import SessionConfig
    from loadscope.engine.metrics import Metrics
    from loadscope.engine.session._crowd import Crowd

    host = Host()
    crowd = Crowd(host, SessionConfig(), Metrics(10))  # type: ignore[arg-type]
    crowd.resize(3)
    await turns(5)
    assert host.looks == 0 and len(crowd.vus) == 3  # started, waiting for their turn
    await release(held)
    await asyncio.gather(*(vu.task for vu in list(crowd.vus) if vu.task is not None))
    assert host.looks >= 3  # each looked (and ended)


async def test_a_runner_closes_its_connections_a_batch_per_loop_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("loadscope.engine.transport._runner.CLOSES_PER_TURN", 2, raising=False)
    ok = response(200, b"ok")
    client = Client(ScriptedPeer(ok, ok), *(ScriptedPeer(ok) for _ in range(4)))
    client.runner.resize(5)  # the shared pool keeps five
    await client.get()  # the pool learns the protocol on a first connection
    await asyncio.gather(*(client.get() for _ in range(5)))  # and opens four more
    conns = list(client.ledger.live_connections())
    assert len(conns) == 5
    closing = asyncio.ensure_future(client.runner.aclose())
    await asyncio.sleep(0)  # its first turn
    assert sum(conn.closed for conn in conns) == 2
    await closing
    assert all(conn.closed for conn in conns)
    assert dict(client.ledger.closed_by_reason) == {"session_end": 5}
