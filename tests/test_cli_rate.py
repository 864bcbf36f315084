"""The open model (`--rate`) measured end to end: the achieved rate, dropped iterations, and
latency corrected for coordinated omission."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from loadscope.engine import Session, SessionConfig, UrlScenario
from loadscope.engine.target import TargetProcess

from .cli_support import loadscope
from .reports import validated

HISTOGRAM_ERROR = 1 / 128  # engine/_histogram.py: a bucket is at most 0.78% of its value wide


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_slow_11s_rate_200_for_10s_is_200_per_second_within_2_percent(
    target: TargetProcess,
) -> None:
    """The one long test (about 11 s): issue 4 asks for exactly this measurement."""
    result = loadscope("run", target.http_url, "--rate", "200", "-d", "10s", "--format", "json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["mode"] == "open" and report["dropped_iterations"] == 0
    achieved = report["iterations_total"] / report["duration_s"]
    assert 196 <= achieved <= 204, achieved
    assert 1960 <= report["iterations_total"] <= 2040
    assert report["errors_total"] == 0
    per_second = [point["iterations"] for point in report["timeline"]]
    assert len(per_second) == 10 and all(150 <= n <= 250 for n in per_second), per_second


@pytest.mark.slow
def test_too_few_vus_drop_iterations_and_latency_counts_from_the_intended_start(
    target: TargetProcess, tmp_path: Path
) -> None:
    delay_ms = 200
    out = tmp_path / "report.json"
    result = loadscope(
        "run", f"{target.http_url}/delay/{delay_ms}", "--rate", "50", "--max-vus", "5",
        "-d", "2s", "--out", str(out),
    )  # fmt: skip
    assert result.code == 0, result.err
    report = validated(json.loads(out.read_text()))
    # 5 VUs busy 200 ms each serve 25 iterations/s of the 50 asked: the rest are dropped.
    assert report["dropped_iterations"] > 20
    assert report["iterations_total"] + report["dropped_iterations"] == 100
    assert report["connections_peak_open"] <= 5
    # At least the injected delay, within the histograms' resolution.
    at_least = delay_ms * (1 - HISTOGRAM_ERROR)
    assert report["latency_ms"]["p99"] >= at_least
    assert report["iteration_latency_ms"]["p99"] >= at_least
    assert report["latency_ms"]["min"] >= at_least
    mode = next(line for line in result.out.splitlines() if line.strip().startswith("mode"))
    dropped = f"{report['dropped_iterations']:,} dropped"
    peak = f"peak {report['peak_vus']} VUs" if report["peak_vus"] != 1 else "peak 1 VU"
    assert f"open, 50 it/s, {peak} of max 5, {dropped}" in mode


@pytest.mark.slow
async def test_a_stalled_generator_still_charges_the_stall_to_latency(
    target: TargetProcess,
) -> None:
    """wrk2's correction, shown directly: the server answers in well under a millisecond, but the
    generator's loop is blocked for 300 ms; the arrivals due meanwhile start late and their
    latency counts from when they were due, so the stall shows in p99 instead of vanishing."""
    config = SessionConfig(rate=100, max_vus=50, duration=2.0, kernel_view=False, detectors=False)
    session = Session(config, UrlScenario(target.http_url + "/json"))
    asyncio.get_running_loop().call_later(1.0, time.sleep, 0.3)  # the stall
    await asyncio.wait_for(session.run(), 30)
    snap = session.snapshot()
    assert snap.errors_total == 0 and snap.dropped_iterations == 0
    assert 190 <= snap.iterations_total <= 200  # the stalled arrivals ran late, not never
    assert snap.latency.p50 < 50  # ms: most requests were not delayed
    assert snap.latency.p99 >= 150  # ...but the ones due during the stall were
