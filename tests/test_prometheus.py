"""`--metrics-port`: Prometheus metrics served while a run lives."""

from __future__ import annotations

import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from loadscope.engine import Histogram, HistogramData
from loadscope.engine.target import TargetProcess
from loadscope.tui.outputs.prometheus import BUCKETS, cumulative_buckets

from .cli_support import loadscope, start, wait_for

REQUIRED = {
    "loadscope_requests",
    "loadscope_request_duration_seconds",
    "loadscope_errors",
    "loadscope_vus",
    "loadscope_connections_open",
    "loadscope_connections_idle",
    "loadscope_connections_opened",
    "loadscope_connections_closed",
    "loadscope_time_wait_sockets",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(port: int) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """Metric family name -> its samples; empty while nothing listens yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return {}
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


def requests_total(metrics: dict[str, list[tuple[str, dict[str, str], float]]]) -> float:
    return sum(v for name, _, v in metrics.get("loadscope_requests", []) if name.endswith("_total"))


@pytest.mark.slow
def test_run_serves_metrics_while_it_runs(target: TargetProcess) -> None:
    port = free_port()
    run = start(
        "run", target.http_url + "/json", "-d", "30s", "-c", "3", "--metrics-port", str(port), "-q"
    )
    seen: dict[str, list[tuple[str, dict[str, str], float]]] = {}

    def counted() -> bool:
        seen.update(scrape(port))
        return requests_total(seen) > 0

    try:
        wait_for(counted, timeout=45, what="loadscope_requests_total above 0")
    finally:
        run.interrupt(signal.SIGINT)
    result = run.finish()
    assert result.code == 130
    assert set(seen) >= REQUIRED
    statuses = {labels["status"] for _, labels, _ in seen["loadscope_requests"]}
    assert "200" in statuses
    answered = sum(
        v
        for name, labels, v in seen["loadscope_requests"]
        if name.endswith("_total") and labels["status"] != "error"
    )
    counts = [
        v for name, _, v in seen["loadscope_request_duration_seconds"] if name.endswith("_count")
    ]
    assert counts == [answered]  # one scrape: the histogram and the counter agree
    assert dict((n, v) for n, _, v in seen["loadscope_vus"])["loadscope_vus"] >= 1
    assert scrape(port) == {}  # the server went away with the run


@pytest.mark.slow
def test_busy_metrics_port_is_bad_input_before_any_request() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with socket.socket() as probe:  # nobody listens there: a load would say "unreachable"
            probe.bind(("127.0.0.1", 0))
            nowhere = probe.getsockname()[1]
        result = loadscope(
            "run", f"http://127.0.0.1:{nowhere}/", "-d", "2s", "--metrics-port", str(port)
        )
    assert result.code == 2
    assert "--metrics-port" in result.error_line()


def test_histogram_buckets_are_cumulative_at_the_bounds() -> None:
    histogram = Histogram()
    values_us = [300, 300, 2_000, 30_000, 4_000_000, 20_000_000]
    for value in values_us:
        histogram.record(value)
    expected = [sum(1 for v in values_us if v <= bound * 1e6) for bound in BUCKETS]
    buckets = cumulative_buckets(HistogramData.of(histogram))
    assert [n for _, n in buckets[:-1]] == expected
    assert buckets[-1] == (float("inf"), len(values_us))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_console_serves_metrics_from_its_engine_process(
    target: TargetProcess, tmp_path: Path
) -> None:
    import pexpect

    from .test_console_e2e import spawn

    port = free_port()
    child = spawn(["console", target.http_url, "-c", "2", "--metrics-port", str(port)], tmp_path)
    try:
        child.expect("RUNNING", timeout=45)
        wait_for(lambda: requests_total(scrape(port)) > 0, timeout=45, what="console metrics")
        child.send("q")
        child.expect("Run stopped", timeout=30)
        child.send("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


@pytest.mark.slow
def test_workers_serve_the_merged_numbers(target: TargetProcess) -> None:
    """With --workers 2, /metrics counts both workers' requests: the merged session's."""
    port = free_port()
    run = start(
        "run", target.http_url + "/json", "-d", "60s", "-c", "4", "--workers", "2",
        "--metrics-port", str(port), "-q",
    )  # fmt: skip
    seen: dict[str, list[tuple[str, dict[str, str], float]]] = {}

    def both_workers_counted() -> bool:
        seen.clear()
        seen.update(scrape(port))
        vus = dict((n, v) for n, _, v in seen.get("loadscope_vus", []))
        return requests_total(seen) > 0 and vus.get("loadscope_vus") == 4

    try:
        wait_for(both_workers_counted, timeout=90, what="merged metrics from both workers")
    finally:
        run.interrupt(signal.SIGINT)
    result = run.finish()
    assert result.code == 130
    answered = sum(
        v
        for name, labels, v in seen["loadscope_requests"]
        if name.endswith("_total") and labels["status"] != "error"
    )
    counts = [
        v for name, _, v in seen["loadscope_request_duration_seconds"] if name.endswith("_count")
    ]
    assert counts == [answered]  # merged histograms and merged counters agree
    opened = dict((n, v) for n, _, v in seen["loadscope_connections_opened"])
    assert opened["loadscope_connections_opened_total"] == 4  # 2 + 2: both workers' pools
