"""Detectors: each condition on made-up seconds, then real faulty setups against the built-in
target (a server that closes, a pool smaller than the concurrency, per-iteration reuse, a short
server keep-alive) and a healthy run that must stay quiet."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from loadscope.engine import (
    EventKind,
    ReuseMode,
    Session,
    SessionConfig,
    UrlScenario,
    attach_diagnostics,
)
from loadscope.engine.diagnostics._detectors import (
    Detectors,
    Kind,
    Observation,
    RunTotals,
    connection_churn,
    generator_saturated,
    low_reuse,
    pool_too_small,
    ports_or_fds,
    server_closes,
    time_wait_growth,
)
from loadscope.engine.target import TargetOptions, TargetProcess

from .reports import report_of
from .test_kernel import quiet_port

STEADY = Observation(
    t=0,
    steady=True,
    reuse_mode="shared",
    http2=False,
    open_model=False,
    concurrency=10,
    pool_keep=10,
    answered=1000,
    answered_total=0,
)


def seconds(n: int, **changes: object) -> list[Observation]:
    """`n` steady seconds from t = 2 (a session settles after its first), alike but `changes`."""
    return [
        replace(STEADY, t=float(t), answered_total=1000 * t, **changes) for t in range(2, n + 2)
    ]


# -- each condition ------------------------------------------------------------------------------
def test_churn_needs_opens_every_steady_second_with_reuse_on() -> None:
    finding = connection_churn(seconds(3, opened=50, reuse_mode="per-iteration"))
    assert finding is not None and dict(finding.values)["opened_per_s"] == 50
    assert "--reuse shared" in finding.advice
    assert connection_churn(seconds(3, opened=50, reuse_mode="none")) is None  # by request
    history = seconds(3, opened=50)
    assert connection_churn(history[:2]) is None
    assert connection_churn([*history[:2], replace(history[2], opened=0)]) is None
    assert connection_churn([*history[:2], replace(history[2], steady=False)]) is None
    assert connection_churn(seconds(3, opened=2)) is None  # one per 500 requests: rotation
    assert connection_churn(seconds(3, opened=1, answered=2)) is not None  # a tiny run


def test_low_reuse_is_fewer_than_two_requests_per_connection() -> None:
    finding = low_reuse(seconds(3, opened=10, answered=15))
    assert finding is not None and dict(finding.values)["requests_per_connection"] == 1.5
    assert low_reuse(seconds(3, opened=10, answered=20)) is None
    assert low_reuse(seconds(3, opened=0, answered=0)) is None
    none = low_reuse(seconds(3, opened=5, answered=5, reuse_mode="none"))
    assert none is not None and "--reuse shared" in none.advice


def test_time_wait_growth_wants_sustained_growth() -> None:
    growing = [replace(o, time_wait=100 * o.t) for o in seconds(4)]
    finding = time_wait_growth(growing)
    assert finding is not None and dict(finding.values)["growth_per_s"] == 100
    jump = [replace(o, time_wait=500 if o.t > 1 else 0) for o in seconds(4)]
    assert time_wait_growth(jump) is None  # one burst of closes, then flat
    stairs = [replace(o, time_wait=[0, 0, 200, 200][i]) for i, o in enumerate(seconds(4))]
    assert time_wait_growth(stairs) is not None  # read every other second: still growing
    small = [replace(o, time_wait=1000 + o.t) for o in seconds(4)]
    assert time_wait_growth(small) is None
    assert time_wait_growth(seconds(4)) is None  # no kernel view: no opinion


def test_server_closes_from_close_reasons() -> None:
    closes = {"connection_close": 40, "peer_closed": 2, "goaway": 0, "pool_shrink": 9}
    finding = server_closes([replace(STEADY, answered_total=50, closes_total=closes)])
    assert finding is not None
    values = dict(finding.values)
    assert values["connection_close"] == 40 and values["peer_closed"] == 2
    assert values["server_closes_per_request"] == 0.84
    assert "Connection: close" in finding.message and "keep-alive" in finding.advice
    rare = {"peer_closed": 3}  # 3 in 100k requests: a restart, not a habit
    assert server_closes([replace(STEADY, answered_total=100_000, closes_total=rare)]) is None
    assert server_closes([replace(STEADY, answered_total=2, closes_total={"goaway": 2})]) is None


def test_server_closes_from_a_short_keep_alive() -> None:
    expired = {"keepalive_expiry": 4}
    short = replace(STEADY, answered_total=10, closes_total=expired, server_keepalive_s=1.0)
    finding = server_closes([short])
    assert finding is not None and "(1 s)" in finding.message
    assert dict(finding.values)["server_keepalive_s"] == 1.0
    assert server_closes([replace(short, server_keepalive_s=120.0)]) is None  # longer than ours
    assert server_closes([replace(short, server_keepalive_s=None)]) is None
    learned = replace(short, server_keepalive_s=None, server_idle_close_s=2.0)
    assert server_closes([learned]) is not None  # from how long closed connections sat idle


def test_pool_too_small_compares_concurrency_with_the_pool() -> None:
    finding = pool_too_small(seconds(2, concurrency=20, pool_keep=2))
    assert finding is not None and dict(finding.values) == {
        "concurrency": 20,
        "pool_keep": 2,
        "pool_shrink_closes": 0,
    }
    assert "--max-idle" in finding.advice and "20" in finding.advice
    assert pool_too_small(seconds(2, concurrency=20, pool_keep=20)) is None
    assert pool_too_small(seconds(2, concurrency=20, pool_keep=2, http2=True)) is None
    assert pool_too_small(seconds(2, concurrency=20, pool_keep=2, reuse_mode="per-vu")) is None
    open_model = seconds(2, concurrency=20, pool_keep=2, open_model=True)
    assert pool_too_small(open_model) is None  # a moment in flight, with no close it caused
    shrinking = [replace(o, closes={"pool_shrink": 3}) for o in open_model]
    assert pool_too_small(shrinking) is not None


def test_ports_or_fds_over_eighty_percent() -> None:
    ports = replace(STEADY, ephemeral_in_use=850, ephemeral_size=1000, fds_open=10, fds_limit=1024)
    finding = ports_or_fds([ports])
    assert finding is not None and "ephemeral ports 85%" in finding.message
    assert "ip_local_port_range" in finding.advice and "ulimit" not in finding.advice
    fds = replace(ports, ephemeral_in_use=10, fds_open=900)
    finding = ports_or_fds([fds])
    assert finding is not None and "file descriptors 88%" in finding.message
    assert ports_or_fds([replace(fds, fds_open=800)]) is None
    assert ports_or_fds([STEADY]) is None  # nothing known


def test_generator_saturated_when_sustained() -> None:
    hot = seconds(3, cpu_percent=97.0)
    finding = generator_saturated(hot)
    assert finding is not None and dict(finding.values)["cpu_percent"] == 97
    assert generator_saturated([*hot[:2], replace(hot[2], cpu_percent=60.0)]) is None
    lagging = seconds(3, loop_lag_ms=80.0)
    assert generator_saturated([*lagging[:2], replace(lagging[2], loop_lag_ms=1.0)]) is not None
    assert generator_saturated([lagging[0], *seconds(2)]) is None  # one pause
    assert generator_saturated(seconds(3, cpu_percent=60.0, loop_lag_ms=5.0)) is None


def test_a_kind_fires_once_then_updates_its_values() -> None:
    detectors = Detectors()
    fired = []
    for observation in seconds(6, opened=10, answered=10, reuse_mode="per-iteration"):
        fired += detectors.observe(replace(observation, answered=10 + int(observation.t)))
    assert [w.kind for w in fired] == ["connection_churn", "low_reuse"]
    warnings = detectors.warnings
    assert [w.kind for w in warnings] == ["connection_churn", "low_reuse"]
    assert warnings[0].t == 4  # when it first fired
    assert dict(warnings[0].values)["requests_per_s"] == 16  # the latest window: 15, 16, 17
    detectors.reset()
    assert detectors.warnings == ()


def test_kinds_are_listed_in_the_issues_order() -> None:
    assert [kind.value for kind in Kind] == [
        "connection_churn",
        "low_reuse",
        "time_wait_growth",
        "server_closes",
        "pool_too_small",
        "ports_or_fds",
        "generator_saturated",
    ]
    detectors = Detectors()
    hot = seconds(3, cpu_percent=99.0, opened=20, answered=20, reuse_mode="per-iteration")
    for observation in hot:
        detectors.observe(observation)
    assert [w.kind for w in detectors.warnings] == [
        "connection_churn",
        "low_reuse",
        "generator_saturated",
    ]


def test_a_healthy_history_is_quiet() -> None:
    detectors = Detectors()
    history = seconds(10, time_wait=3, ephemeral_in_use=10, ephemeral_size=28232, fds_open=30)
    for observation in [replace(history[0], opened=10, steady=False), *history[1:]]:
        assert detectors.observe(replace(observation, fds_limit=1024)) == []


# -- the whole run, judged when it ends ----------------------------------------------------------
# A 4 s per-iteration run at c=10: every request on a new connection, TIME_WAIT still rising.
CHURNY_RUN = RunTotals(
    seconds=4.0,
    reuse_mode="per-iteration",
    one_mode=True,
    answered=3448,
    opened=3448,
    held=12,
    time_wait_readings=((10.0, 1500), (11.0, 2367)),
)


def test_a_short_churny_run_is_judged_on_its_totals() -> None:
    detectors = Detectors()
    fired = detectors.judge_run(CHURNY_RUN)
    assert [w.kind for w in fired] == ["connection_churn", "low_reuse", "time_wait_growth"]
    churn, reuse, growth = fired
    assert dict(churn.values)["new_connection_share"] == 1.0
    assert dict(churn.values)["opened_per_s"] == 862 and "--reuse shared" in churn.advice
    assert dict(reuse.values)["requests_per_connection"] == 1.0
    assert dict(growth.values) == {"time_wait": 2367, "growth_per_s": 867}
    assert all(w.t == 4.0 for w in fired) and detectors.warnings == tuple(fired)


def test_a_run_that_held_its_connections_is_quiet() -> None:
    keep_alive = replace(CHURNY_RUN, reuse_mode="shared", opened=10, held=10)
    flat = replace(keep_alive, time_wait_readings=((10.0, 0), (11.0, 0)))
    assert Detectors().judge_run(flat) == []
    # A few connections replaced in many requests is rotation, not churn (but still reuse).
    assert Detectors().judge_run(replace(flat, opened=14)) == []
    assert Detectors().judge_run(replace(CHURNY_RUN, answered=10, opened=10, held=4)) != []
    assert [w.kind for w in Detectors().judge_run(replace(flat, answered=10, opened=10))] == []


def test_the_whole_run_leaves_what_the_steady_window_found_and_mixed_modes_alone() -> None:
    mixed = replace(CHURNY_RUN, one_mode=False, time_wait_readings=())
    assert Detectors().judge_run(mixed) == []  # phases or a switch churn by design
    none = Detectors().judge_run(replace(CHURNY_RUN, reuse_mode="none", time_wait_readings=()))
    assert [w.kind for w in none] == ["low_reuse"]  # reuse none opens per request by request
    detectors = Detectors()
    for observation in seconds(3, opened=50, answered=50, reuse_mode="per-iteration"):
        detectors.observe(observation)
    steady = detectors.warnings
    assert [w.kind for w in detectors.judge_run(CHURNY_RUN)] == ["time_wait_growth"]
    assert detectors.warnings[:2] == steady  # the steady window's numbers stay
    falling = replace(CHURNY_RUN, time_wait_readings=((10.0, 2400), (11.0, 2367)))
    assert "time_wait_growth" not in [w.kind for w in Detectors().judge_run(falling)]


# -- real faulty setups --------------------------------------------------------------------------
async def diagnosed(url: str, **config: object) -> Session:
    # 4.5 s: ticks at 1-4 s, steady from the second on, so the 3 s windows are judged at 4 s.
    values: dict[str, object] = {"concurrency": 4, "duration": 4.5, "stop_grace": 2.0}
    values.update(config)
    session = Session(SessionConfig(**values), UrlScenario(url))  # type: ignore[arg-type]
    attach_diagnostics(session)
    await asyncio.wait_for(session.run(), 60)
    return session


def kinds(session: Session) -> list[str]:
    return [warning.kind for warning in session.snapshot().warnings]


def warning_events(session: Session) -> list[str]:
    return [event.message for event in session.events if event.kind is EventKind.DETECTOR]


@pytest.mark.slow
async def test_a_server_sending_connection_close(target: TargetProcess) -> None:
    session = await diagnosed(target.http_url + "/close")
    found = kinds(session)
    assert {"server_closes", "connection_churn", "low_reuse"} <= set(found)
    assert "pool_too_small" not in found
    warning = next(w for w in session.snapshot().warnings if w.kind == "server_closes")
    values = dict(warning.values)
    closes = dict(session.snapshot().connections.closed_by_reason)
    assert values["connection_close"] == closes["connection_close"] > 100
    assert warning.advice
    events = warning_events(session)
    assert len(events) == len(found)  # each kind logged once, however long it lasted
    assert any(message.startswith("server_closes: ") for message in events)
    report = report_of(session.snapshot())
    assert [w["kind"] for w in report["warnings"]] == found
    assert set(report["warnings"][0]) == {"kind", "message", "advice", "values"}


@pytest.mark.slow
async def test_a_pool_smaller_than_the_concurrency(target: TargetProcess) -> None:
    url = target.http_url + "/delay/5"
    session = await diagnosed(url, concurrency=20, max_idle_per_origin=2, duration=4.0)
    assert "pool_too_small" in kinds(session)
    warning = next(w for w in session.snapshot().warnings if w.kind == "pool_too_small")
    assert dict(warning.values)["concurrency"] == 20 and dict(warning.values)["pool_keep"] == 2
    assert "--max-idle" in warning.advice


@pytest.mark.slow
async def test_per_iteration_reuse() -> None:
    # A quiet port of its own: on loopback the kernel hands old TIME_WAIT ports of other tests
    # to new connections, which would hide the growth; 500/s never wraps the port range.
    with TargetProcess(TargetOptions(port=quiet_port())) as server:
        session = await diagnosed(
            server.http_url,
            duration=5.5,  # TIME_WAIT growth is judged over 4 steady readings
            reuse_mode=ReuseMode.PER_ITERATION,
            max_iterations_per_second=500,
        )
    found = kinds(session)
    timeline = [(p.t, p.opened, p.time_wait) for p in session.snapshot().timeline]
    assert {"connection_churn", "low_reuse", "time_wait_growth"} <= set(found), (found, timeline)
    assert "server_closes" not in found and "pool_too_small" not in found
    churn = next(w for w in session.snapshot().warnings if w.kind == "connection_churn")
    assert "--reuse shared" in churn.advice
    assert dict(churn.values)["new_connection_share"] >= 0.99  # a second's edge splits a few
    growth = next(w for w in session.snapshot().warnings if w.kind == "time_wait_growth")
    assert dict(growth.values)["time_wait"] <= session.snapshot().connections.opened_total


@pytest.mark.slow
async def test_a_run_too_short_for_a_steady_window_still_reports_churn(
    target: TargetProcess,
) -> None:
    # 3 s: ticks at 1 and 2 s, never the 3 steady seconds a window needs after settling.
    session = await diagnosed(target.http_url, duration=3.0, reuse_mode=ReuseMode.PER_ITERATION)
    snapshot = session.snapshot()
    found = kinds(session)
    opened = snapshot.connections.opened_total
    assert snapshot.requests_total >= 100 and opened >= snapshot.requests_total - 8
    assert {"connection_churn", "low_reuse", "time_wait_growth"} <= set(found), found
    growth = next(w for w in snapshot.warnings if w.kind == "time_wait_growth")
    assert 0 < dict(growth.values)["time_wait"] <= opened  # this run's sockets only
    logged = [e.detector for e in session.events if e.kind is EventKind.DETECTOR]
    assert sorted(logged) == sorted(found)  # each logged once, with its kind
    assert [w["kind"] for w in report_of(snapshot)["warnings"]] == found


@pytest.mark.slow
async def test_a_short_keep_alive_run_after_a_churny_one_stays_quiet(
    target: TargetProcess,
) -> None:
    await diagnosed(target.http_url, duration=1.5, reuse_mode=ReuseMode.PER_ITERATION)
    session = await diagnosed(target.http_url, duration=3.0, max_iterations_per_second=300)
    snapshot = session.snapshot()
    # A shared pool opens at most one connection per VU (fewer if a VU finds one idle first).
    assert snapshot.requests_total > 100 and 1 <= snapshot.connections.opened_total <= 4
    assert not {"connection_churn", "low_reuse", "time_wait_growth"} & set(kinds(session))
    assert snapshot.kernel is not None and snapshot.kernel.time_wait_peak == 0


@pytest.mark.slow
async def test_a_server_keep_alive_shorter_than_the_client_idle_expiry() -> None:
    with TargetProcess(TargetOptions(keepalive_timeout=1.0)) as server:
        # One request a second on one connection: it sits idle past the server's 1 s each time.
        session = await diagnosed(
            server.http_url, concurrency=1, max_iterations_per_second=1, duration=5.0
        )
    assert "server_closes" in kinds(session)
    warning = next(w for w in session.snapshot().warnings if w.kind == "server_closes")
    assert dict(warning.values)["server_keepalive_s"] == 1.0
    assert dict(warning.values)["client_idle_timeout_s"] == 90.0
    assert 1.0 in dict(session.snapshot().connections.keepalive_hints)


@pytest.mark.slow
async def test_a_healthy_shared_run_stays_quiet(target: TargetProcess) -> None:
    session = await diagnosed(target.http_url + "/json", max_iterations_per_second=300)
    snapshot = session.snapshot()
    # Up to 1,350 at 300/s; a busy machine sends fewer, and a quiet run is a quiet run.
    assert snapshot.requests_total > 300 and snapshot.errors_total == 0
    assert snapshot.warnings == () and warning_events(session) == []
    assert snapshot.generator.cpu_seconds > 0
    assert all(point.cpu_percent is not None for point in snapshot.timeline)
