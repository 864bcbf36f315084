"""The connection pool against an in-memory peer (no sockets): acquire and release, sizing to the
concurrency, reuse modes, close reasons and the bound on connections."""

from __future__ import annotations

import asyncio

from loadscope.engine._config import CloseReason, HttpVersion, RunnerConfig, SessionConfig
from loadscope.engine.diagnostics import ConnectionLedger
from loadscope.engine.transport import PoolScope, RawResponse, Runner

from .mock_backend import CLOSE, SILENT, H2Peer, MockNetwork, ScriptedPeer, response

BASE = "http://127.0.0.1:8080"  # any address: the mock network connects nowhere


def ok(n: int = 1) -> ScriptedPeer:
    """A peer that answers `n` requests with 200."""
    return ScriptedPeer(*[response(200, b"ok") for _ in range(n)])


class Pools:
    def __init__(self, *peers: ScriptedPeer, keep: int = 1, idle_timeout: float = 90.0) -> None:
        self.network = MockNetwork(*peers)
        self.ledger = ConnectionLedger()
        self.runner = Runner(
            RunnerConfig(name="t", base_url=BASE),
            SessionConfig(http_version=HttpVersion.HTTP1, idle_timeout=idle_timeout),
            self.ledger,
            network=self.network,
        )
        self.runner.resize(keep)

    async def get(self, scope: PoolScope | None = None, method: str = "GET") -> RawResponse:
        request = self.runner.build_request(method, "/")
        return await (scope or self.runner.shared).exchange(request, 5.0)

    async def concurrently(self, n: int, scope: PoolScope | None = None) -> list[RawResponse]:
        return list(await asyncio.gather(*(self.get(scope) for _ in range(n))))

    def idle(self) -> int:
        return sum(len(pool.connections()) for pool in self.runner.shared.pools())

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    def reasons(self) -> dict[str, int]:
        return dict(self.ledger.closed_by_reason)


async def test_a_released_connection_is_acquired_again() -> None:
    pools = Pools(ok(3))
    answers = [await pools.get() for _ in range(3)]
    assert [a.new_connection for a in answers] == [True, False, False]
    assert pools.network.opened == 1 and pools.idle() == 1
    await pools.runner.aclose()


async def test_concurrent_callers_get_a_connection_each_and_keep_them() -> None:
    pools = Pools(*[ok(2) for _ in range(5)], keep=5)
    await pools.concurrently(5)
    assert pools.network.opened == 5 and pools.idle() == 5
    await pools.concurrently(5)  # the same five serve the second wave
    assert pools.network.opened == 5
    await pools.runner.aclose()
    assert pools.reasons() == {"session_end": 5}


async def test_idle_connections_beyond_the_concurrency_are_closed() -> None:
    pools = Pools(*[ok() for _ in range(5)], keep=2)
    await pools.concurrently(5)
    await pools.settle()
    assert pools.idle() == 2
    assert pools.reasons() == {"pool_shrink": 3}
    await pools.runner.aclose()


async def test_shrinking_closes_the_oldest_idle_connections() -> None:
    pools = Pools(*[ok() for _ in range(4)], keep=4)
    await pools.concurrently(4)
    pools.runner.resize(1)
    await pools.settle()
    assert pools.idle() == 1 and pools.reasons() == {"pool_shrink": 3}
    await pools.runner.aclose()


async def test_no_reuse_opens_a_connection_per_request_and_asks_the_server_to_close() -> None:
    peers = [ok() for _ in range(3)]
    pools = Pools(*peers)
    scope = pools.runner.new_scope(reuse=False)
    for _ in range(3):
        await pools.get(scope)
    await pools.settle()
    assert pools.network.opened == 3
    assert all(b"\r\nConnection: close\r\n" in peer.requests[0] for peer in peers)
    assert pools.reasons() == {"no_reuse": 3}
    await pools.runner.aclose()


async def test_a_per_user_scope_keeps_its_own_connection() -> None:
    pools = Pools(ok(2), ok(2))
    mine, yours = pools.runner.new_scope(keep=1), pools.runner.new_scope(keep=1)
    for scope in (mine, yours, mine, yours):
        await pools.get(scope)
    assert pools.network.opened == 2
    mine.close_idle(CloseReason.ITERATION_END)
    await pools.settle()
    assert pools.reasons() == {"iteration_end": 1}
    await pools.runner.aclose()


async def test_an_expired_idle_connection_is_closed_not_reused() -> None:
    pools = Pools(ok(), ok(), idle_timeout=30.0)
    await pools.get()
    conn = pools.runner.shared.pools()[0].connections()[0]
    pools.runner.sweep(conn.last_used + 31.0)  # as if 31 s had passed
    await pools.settle()
    assert pools.reasons() == {"keepalive_expiry": 1}
    assert (await pools.get()).new_connection
    await pools.runner.aclose()


async def test_the_servers_keep_alive_hint_shortens_the_expiry() -> None:
    hinted = ScriptedPeer(response(200, b"ok", [("Keep-Alive", "timeout=5")]))
    pools = Pools(hinted, idle_timeout=90.0)
    await pools.get()
    pool = pools.runner.shared.pools()[0]
    conn = pool.connections()[0]
    assert pool.expiry(conn) < 5.0
    pools.runner.sweep(conn.last_used + 5.0)
    await pools.settle()
    assert pools.reasons() == {"keepalive_expiry": 1}
    await pools.runner.aclose()


async def test_retired_pools_close_busy_connections_when_their_request_ends() -> None:
    pools = Pools(ScriptedPeer(SILENT), ScriptedPeer(SILENT), keep=2)
    pending = asyncio.ensure_future(pools.concurrently(2))
    for _ in range(10_000):  # until both requests are on the wire
        if pools.network.opened == 2 and all(t.written for t in pools.network.transports):
            break
        await asyncio.sleep(0)
    old = pools.runner.shared
    pools.runner.replace_shared(CloseReason.MODE_SWITCH)
    await pools.settle()
    assert pools.reasons() == {}  # both are busy: they finish their request first
    for transport in pools.network.transports:
        transport.push(response(200, b"late"))
    assert [r.body for r in await pending] == [b"late", b"late"]
    await pools.settle()
    assert pools.reasons() == {"mode_switch": 2}
    assert old.pools()[0].connections() == []
    await pools.runner.aclose()


async def test_a_refused_connection_is_a_connect_error() -> None:
    pools = Pools()  # no peer: every connection is refused
    try:
        await pools.get()
    except Exception as exc:
        assert getattr(exc, "kind", None) == "connect_refused"
    else:
        raise AssertionError("expected a refusal")
    assert pools.ledger.open == 0
    await pools.runner.aclose()


async def test_a_connection_closed_by_the_server_while_idle_is_not_handed_out() -> None:
    pools = Pools(ScriptedPeer([response(200, b"ok"), CLOSE]), ok())
    await pools.get()
    await pools.settle()
    assert pools.reasons() == {"peer_closed": 1}
    assert (await pools.get()).new_connection
    assert pools.network.opened == 2
    await pools.runner.aclose()


async def test_multiplexed_requests_share_at_most_h2_connections() -> None:
    for size in (1, 2):
        peers = [H2Peer(body=b"h2") for _ in range(size + 1)]
        network = MockNetwork(*peers)
        ledger = ConnectionLedger()
        runner = Runner(
            RunnerConfig(name="t", base_url=BASE),
            SessionConfig(http_version=HttpVersion.HTTP2, h2_connections=size),
            ledger,
            network=network,
        )
        requests = [runner.build_request("GET", f"/{i}") for i in range(12)]
        answers = await asyncio.gather(*(runner.shared.exchange(r, 5.0) for r in requests))
        assert [a.body for a in answers] == [b"h2"] * 12
        assert network.opened == size
        paths = sorted(dict(h)[b":path"] for peer in peers for h in peer.requests)
        assert paths == sorted(f"/{i}".encode() for i in range(12))
        await runner.aclose()


async def test_streams_wait_for_the_servers_stream_limit() -> None:
    peer = H2Peer(max_streams=2)
    network = MockNetwork(peer)
    runner = Runner(
        RunnerConfig(name="t", base_url=BASE),
        SessionConfig(http_version=HttpVersion.HTTP2),
        ConnectionLedger(),
        network=network,
    )
    answers = await asyncio.gather(
        *(runner.shared.exchange(runner.build_request("GET", "/"), 5.0) for _ in range(7))
    )
    assert [a.status for a in answers] == [200] * 7 and network.opened == 1
    await runner.aclose()
