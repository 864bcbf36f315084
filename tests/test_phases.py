"""A/B phases in one session, and latency split by connection fate, over TLS against the
built-in target; the accept counter is the ground truth for connections opened."""

from __future__ import annotations

import asyncio
import json

import pytest

from loadscope.engine import (
    EventKind,
    HttpVersion,
    PhaseExtension,
    PhaseSpec,
    ReuseMode,
    Session,
    SessionConfig,
    UrlScenario,
    attach_diagnostics,
    phase_specs,
)
from loadscope.engine.session.scenario import VirtualUserView
from loadscope.engine.target import TargetProcess
from loadscope.tui.cli import main
from loadscope.tui.cli._options import Phase

from .reports import report_of, validated


def test_phases_come_from_pairs_or_objects() -> None:
    specs = phase_specs(
        [("shared", 30), Phase(ReuseMode.PER_ITERATION, 20.0), PhaseSpec("none", 5)]
    )
    assert specs == (
        PhaseSpec(ReuseMode.SHARED, 30.0),
        PhaseSpec(ReuseMode.PER_ITERATION, 20.0),
        PhaseSpec(ReuseMode.NONE, 5.0),
    )
    assert PhaseExtension(specs).total_duration == 55
    with pytest.raises(ValueError):
        phase_specs([("sometimes", 1)])
    with pytest.raises(ValueError):
        phase_specs([("shared", 0)])


def tls_config(**overrides: object) -> SessionConfig:
    values: dict[str, object] = {
        "concurrency": 4,
        "insecure": True,
        "http_version": HttpVersion.HTTP1,
        "stop_grace": 2.0,
    }
    values.update(overrides)
    return SessionConfig(**values)  # type: ignore[arg-type]


@pytest.mark.slow
async def test_phases_switch_the_reuse_mode_and_measure_each(target: TargetProcess) -> None:
    assert target.https_url is not None
    session = Session(tls_config(duration=6.0), UrlScenario(target.https_url + "/json"))
    attach_diagnostics(session, phases=[("shared", 2), ("per-iteration", 2), ("shared", 2)])
    accepted = target.accepted()
    await asyncio.wait_for(session.run(), 60)
    snapshot = session.snapshot()
    first, churn, back = snapshot.phases
    assert [p.reuse_mode for p in snapshot.phases] == ["shared", "per-iteration", "shared"]
    assert [p.name for p in snapshot.phases] == ["1 shared", "2 per-iteration", "3 shared"]
    assert all(1.5 <= p.duration_s <= 3.0 for p in snapshot.phases)
    assert first.started_s < churn.started_s < back.started_s
    # Every second of traffic is in exactly one phase, and every connection too.
    assert sum(p.requests for p in snapshot.phases) == snapshot.requests_total
    assert sum(p.opened for p in snapshot.phases) == snapshot.connections.opened_total
    assert snapshot.connections.opened_total == target.accepted() - accepted
    # Shared opens one connection per VU; requests in flight at a switch finish where they began.
    assert first.opened == 4 and back.opened <= 8
    assert churn.opened >= churn.requests - 8 and churn.opened > 20
    assert churn.rps < first.rps and churn.p50_ms > first.p50_ms
    assert churn.cpu_ms_per_request > first.cpu_ms_per_request
    assert churn.opened_per_s > 2 * max(first.opened_per_s, back.opened_per_s)  # any speed
    assert all(p.errors == 0 for p in snapshot.phases)
    # The churn phase is the one that adds TIME_WAIT sockets (the next one inherits them).
    assert churn.time_wait_rise >= 10 and first.time_wait_rise < churn.time_wait_rise
    assert all(p.time_wait_peak >= p.time_wait_rise for p in snapshot.phases)
    phase_events = [e.message for e in snapshot.events if e.kind is EventKind.PHASE]
    assert phase_events == [
        "phase 1/3: shared for 2s",
        "phase 2/3: per-iteration for 2s",
        "phase 3/3: shared for 2s",
    ]
    report = report_of(snapshot)
    assert [p["reuse_mode"] for p in report["phases"]] == ["shared", "per-iteration", "shared"]
    assert set(report["phases"][0]) >= {
        "rps",
        "p50_ms",
        "p99_ms",
        "opened_per_s",
        "time_wait_peak",
        "time_wait_rise",
        "cpu_ms_per_request",
        "errors",
    }


class TwoRequests(UrlScenario):
    """An iteration of two requests: per-iteration, the first opens and the second reuses."""

    async def run_iteration(self, vu: VirtualUserView) -> None:
        assert self._runner is not None and self._request is not None and self._step is not None
        await vu.exchange(self._runner, self._request, self._step)
        await vu.exchange(self._runner, self._request, self._step)


@pytest.mark.slow
async def test_latency_is_split_by_connection_fate(target: TargetProcess) -> None:
    assert target.https_url is not None
    config = tls_config(duration=1.5, reuse_mode=ReuseMode.PER_ITERATION)
    session = Session(config, TwoRequests(target.https_url + "/json"))
    accepted = target.accepted()
    await asyncio.wait_for(session.run(), 30)
    snapshot = session.snapshot()
    new, reused = snapshot.latency_new_connection, snapshot.latency_reused_connection
    iterations = snapshot.iterations_total
    assert snapshot.errors_total == 0 and iterations > 20
    assert new.count == reused.count == iterations
    assert new.count == snapshot.connections.opened_total == target.accepted() - accepted
    assert new.p50 > reused.p50  # the TLS handshake
    metrics = session.metrics
    assert 0 < snapshot.handshake_time_share < 1
    assert snapshot.handshake_time_share == round(metrics.handshake_us / metrics.latency.total, 4)
    connects = snapshot.connections.connect_ms.mean + snapshot.connections.tls_ms.mean
    total_ms = metrics.latency.total / 1000
    assert snapshot.handshake_time_share == pytest.approx(connects * new.count / total_ms, rel=0.01)
    report = report_of(snapshot)
    assert report["latency_new_connection_ms"]["count"] == iterations
    assert (
        report["latency_new_connection_ms"]["p50"] > report["latency_reused_connection_ms"]["p50"]
    )
    assert set(report["latency_reused_connection_ms"]) == {"count", "p50", "p90", "p99", "max"}


@pytest.mark.slow
def test_phases_from_the_command_line_after_a_warm_up(
    target: TargetProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "run",
            target.http_url,
            "-c",
            "2",
            "--warm-up",
            "1s",
            "--phases",
            "shared:1s,none:1s",
            "--format",
            "json",
        ]
    )
    report = validated(json.loads(capsys.readouterr().out))
    assert code == 0
    phases = report["phases"]
    assert [p["reuse_mode"] for p in phases] == ["shared", "none"]
    assert phases[0]["started_s"] == 0 and phases[0]["opened"] == 0  # warm already
    assert phases[1]["opened"] > 0
    assert 0 <= phases[1]["requests"] - phases[1]["opened"] <= 2  # in flight at the switch
    assert sum(p["requests"] for p in phases) == report["requests_total"]
    assert "time_wait_peak" in report and "cpu_percent" in report["timeline"][0]
