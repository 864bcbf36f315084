"""The engine against the built-in target, on real sockets. Counts are checked against the
target's own accept counter, the ground truth for how many connections were opened."""

from __future__ import annotations

import asyncio

import pytest

from loadscope.engine import (
    HttpVersion,
    ReuseMode,
    Session,
    SessionConfig,
    Snapshot,
    State,
    UrlScenario,
)
from loadscope.engine.target import TargetProcess

from .helpers import eventually, own_tcp_states, run_session


def config(**overrides: object) -> SessionConfig:
    values: dict[str, object] = {"concurrency": 5, "duration": 1.5, "stop_grace": 5.0}
    values.update(overrides)
    return SessionConfig(**values)  # type: ignore[arg-type]


@pytest.mark.slow
async def test_shared_mode_opens_exactly_one_connection_per_vu(target: TargetProcess) -> None:
    before = target.accepted()
    session = await run_session(config(concurrency=20, duration=3), UrlScenario(target.http_url))
    snap = session.snapshot()
    assert snap.errors_total == 0 and snap.requests_total > 1000
    assert snap.connections.opened_total == 20
    assert snap.connections.requests_new == 20
    assert snap.connections.requests_reused == snap.requests_total - 20
    assert target.accepted() - before == 20
    assert dict(snap.http_versions) == {"HTTP/1.1": snap.requests_total}


@pytest.mark.slow
async def test_per_iteration_opens_one_connection_per_iteration(target: TargetProcess) -> None:
    before = target.accepted()
    session = await run_session(
        config(reuse_mode=ReuseMode.PER_ITERATION), UrlScenario(target.http_url + "/json")
    )
    snap = session.snapshot()
    assert snap.errors_total == 0 and snap.iterations_total > 50
    assert snap.connections.opened_total == snap.iterations_total
    assert target.accepted() - before == snap.iterations_total
    assert dict(snap.connections.closed_by_reason)["iteration_end"] == snap.iterations_total


@pytest.mark.slow
async def test_reuse_none_opens_one_connection_per_request(target: TargetProcess) -> None:
    before = target.accepted()
    session = await run_session(config(reuse_mode=ReuseMode.NONE), UrlScenario(target.http_url))
    snap = session.snapshot()
    assert snap.errors_total == 0 and snap.requests_total > 50
    assert snap.connections.opened_total == snap.requests_total
    assert snap.connections.requests_reused == 0
    assert target.accepted() - before == snap.requests_total


@pytest.mark.slow
async def test_per_vu_keeps_one_connection_per_vu(target: TargetProcess) -> None:
    before = target.accepted()
    session = await run_session(
        config(concurrency=7, reuse_mode=ReuseMode.PER_VU), UrlScenario(target.http_url)
    )
    snap = session.snapshot()
    assert snap.errors_total == 0
    assert snap.connections.opened_total == 7 == target.accepted() - before


@pytest.mark.slow
@pytest.mark.parametrize("connections", [1, 3])
@pytest.mark.parametrize("transport", ["tls", "h2c"])
async def test_http2_multiplexes_over_the_configured_connections(
    target: TargetProcess, transport: str, connections: int
) -> None:
    url = target.https_url if transport == "tls" else target.http_url
    assert url is not None
    before = target.accepted()
    session = await run_session(
        config(
            concurrency=30,
            http_version=HttpVersion.HTTP2,
            h2_connections=connections,
            insecure=True,
        ),
        UrlScenario(url + "/json"),
    )
    snap = session.snapshot()
    assert snap.errors_total == 0 and snap.requests_total > 100
    assert dict(snap.http_versions) == {"HTTP/2": snap.requests_total}
    assert snap.connections.opened_total == connections
    assert target.accepted() - before == connections


@pytest.mark.slow
async def test_tls_auto_lets_the_server_choose_h2_by_alpn(target: TargetProcess) -> None:
    assert target.https_url is not None
    session = await run_session(
        config(concurrency=10, insecure=True), UrlScenario(target.https_url)
    )
    snap = session.snapshot()
    assert dict(snap.http_versions) == {"HTTP/2": snap.requests_total}
    assert snap.connections.opened_total == 1
    assert snap.connections.tls_ms.count == 1


@pytest.mark.slow
async def test_http1_over_tls_verifies_with_the_given_ca(target: TargetProcess) -> None:
    from loadscope.engine import RunnerConfig
    from loadscope.engine.session.scenario import UrlScenario as Url

    class VerifiedUrl(Url):
        def runner_configs(self) -> list[RunnerConfig]:
            return [RunnerConfig("url", target.https_url or "", cacert=target.cert_path)]

    session = await run_session(
        config(concurrency=4, http_version=HttpVersion.HTTP1), VerifiedUrl(target.https_url or "")
    )
    snap = session.snapshot()
    assert snap.errors_total == 0
    assert dict(snap.http_versions) == {"HTTP/1.1": snap.requests_total}
    assert snap.connections.opened_total == 4


async def test_tls_verification_is_on_by_default(target: TargetProcess) -> None:
    session = await run_session(
        config(concurrency=2, duration=0.5), UrlScenario(target.https_url or "")
    )
    snap = session.snapshot()
    assert snap.requests_total == snap.errors_total > 0
    assert {e.kind for e in snap.errors} == {"tls_verify"}


@pytest.mark.slow
async def test_set_concurrency_while_running_shows_each_level(target: TargetProcess) -> None:
    session = Session(config(concurrency=5, duration=None), UrlScenario(target.http_url))
    await session.start()
    for level in (5, 40, 10):  # each level held until a timeline point and the pool show it
        session.set_concurrency(level)
        await eventually(
            lambda level=level: shows_level(session.snapshot(), level), what=f"{level} VUs"
        )
    await session.shutdown()
    snap = session.snapshot()
    levels = [p.concurrency for p in snap.timeline]
    assert {5, 40, 10} <= set(levels)
    assert levels.index(5) < levels.index(40) < len(levels) - 1 - levels[::-1].index(10)
    assert snap.errors_total == 0
    assert snap.concurrency == 10
    assert snap.connections.peak_open == 40
    closed = dict(snap.connections.closed_by_reason)
    assert closed["pool_shrink"] == 30 and closed["session_end"] == 10


def shows_level(snap: Snapshot, level: int) -> bool:
    """The last timeline point ran at `level` VUs, and each of them has its connection open
    (surplus idle connections may stay open after a shrink, up to the pool's keep)."""
    last = snap.timeline[-1].concurrency if snap.timeline else None
    return last == level == snap.vus and snap.connections.open >= level


@pytest.mark.slow
async def test_pause_sends_nothing_and_resume_continues(target: TargetProcess) -> None:
    session = Session(config(concurrency=8, duration=None), UrlScenario(target.http_url))
    await session.start()
    await eventually(lambda: session.metrics.requests > 0, what="traffic")
    session.pause()
    assert session.snapshot().state == State.PAUSED.value
    await eventually(lambda: session.busy == 0, what="in-flight requests to finish")
    before_pause = session.metrics.requests
    accepted = target.accepted()
    paused_at = session.snapshot().session_s
    # Watch the paused session for a second of its own clock: nothing may go out meanwhile.
    await eventually(lambda: session.snapshot().session_s >= paused_at + 1.0, what="a second")
    assert session.metrics.requests == before_pause
    session.resume()
    await eventually(lambda: session.metrics.requests > before_pause, what="traffic again")
    await session.shutdown()
    assert target.accepted() == accepted  # pausing kept the connections


@pytest.mark.slow
async def test_closing_the_session_closes_every_connection(target: TargetProcess) -> None:
    port = int(target.http_url.rsplit(":", 1)[1].split("/")[0])
    session = Session(config(concurrency=12, duration=None), UrlScenario(target.http_url))
    await session.start()
    await eventually(lambda: own_tcp_states(port).get("ESTABLISHED", 0) == 12, what="12 open")
    await session.shutdown()
    assert own_tcp_states(port).get("ESTABLISHED", 0) == 0
    snap = session.snapshot()
    assert snap.connections.open == 0
    assert dict(snap.connections.closed_by_reason) == {"session_end": 12}


@pytest.mark.slow
async def test_server_connection_close_is_recorded(target: TargetProcess) -> None:
    session = await run_session(
        config(concurrency=3, duration=1), UrlScenario(target.http_url + "/close")
    )
    snap = session.snapshot()
    assert snap.errors_total == 0
    closed = dict(snap.connections.closed_by_reason)
    assert closed.get("connection_close", 0) >= snap.requests_total - 3
    assert snap.connections.opened_total == snap.requests_total


@pytest.mark.slow
async def test_timeline_has_one_point_per_second_with_pool_numbers(target: TargetProcess) -> None:
    session = await run_session(config(concurrency=6, duration=3.2), UrlScenario(target.http_url))
    snap = session.snapshot()
    points = snap.timeline
    assert [p.t for p in points[:3]] == [1, 2, 3]
    assert all(p.open == 6 for p in points[:3])
    assert points[0].opened == 6 and all(p.opened == 0 for p in points[1:3])
    assert all(p.rps > 0 and p.p99_ms >= p.p50_ms > 0 for p in points[:3])


async def test_a_dead_target_gives_errors_not_crashes() -> None:
    session = await run_session(
        config(concurrency=3, duration=0.5), UrlScenario("http://127.0.0.1:9/")
    )
    snap = session.snapshot()
    assert snap.requests_total == snap.errors_total > 0
    assert {e.kind for e in snap.errors} == {"connect_refused"}
    assert snap.iterations_failed == snap.iterations_total


@pytest.mark.slow
async def test_http2_goaway_from_the_server_is_recorded(target: TargetProcess) -> None:
    session = await run_session(
        config(concurrency=1, duration=1, http_version=HttpVersion.HTTP2),
        UrlScenario(target.http_url + "/close"),
    )
    snap = session.snapshot()
    assert snap.errors_total == 0 and snap.requests_total > 10
    assert dict(snap.http_versions) == {"HTTP/2": snap.requests_total}
    assert snap.connections.opened_total == snap.requests_total
    assert dict(snap.connections.closed_by_reason) == {"goaway": snap.requests_total}


@pytest.mark.slow
async def test_a_long_drain_leaves_no_gap_in_the_timeline(target: TargetProcess) -> None:
    # 700 ms requests: the last ones finish 0.5 s past the deadline, past a second boundary.
    scenario = UrlScenario(target.http_url + "/delay/700")
    session = await run_session(config(concurrency=3, duration=3.0), scenario)
    snap = session.snapshot()
    seconds = [p.t for p in snap.timeline]
    assert seconds == list(range(1, len(seconds) + 1))
    assert sum(p.iterations for p in snap.timeline) == snap.iterations_total


# -- --iterations: a run of a fixed number of iterations ----------------------------------------
@pytest.mark.parametrize("concurrency", [1, 8])
async def test_max_iterations_ends_the_run_after_that_many(
    target: TargetProcess, concurrency: int
) -> None:
    served = target.requests()
    session = Session(
        config(concurrency=concurrency, duration=None, max_iterations=40),
        UrlScenario(target.http_url),
    )
    await asyncio.wait_for(session.run(), 30)  # no duration: the iterations end it
    snapshot = session.snapshot()
    assert session.state is State.STOPPED
    assert snapshot.iterations_total == snapshot.iterations_succeeded == 40
    assert snapshot.requests_total == target.requests() - served == 40


async def test_max_iterations_in_the_open_model_drops_nothing(target: TargetProcess) -> None:
    session = Session(
        config(rate=200.0, max_vus=20, duration=None, max_iterations=30),
        UrlScenario(target.http_url),
    )
    await asyncio.wait_for(session.run(), 30)  # no duration: the iterations end it
    snapshot = session.snapshot()
    assert snapshot.iterations_total == snapshot.requests_total == 30
    assert snapshot.dropped_iterations == 0


@pytest.mark.slow
async def test_the_duration_still_ends_a_run_before_its_iterations(
    target: TargetProcess,
) -> None:
    cap = 10**9
    session = Session(
        config(duration=1.0, max_iterations=cap), UrlScenario(target.http_url + "/delay/20")
    )
    await asyncio.wait_for(session.run(), 30)
    assert 0 < session.snapshot().iterations_total < cap
