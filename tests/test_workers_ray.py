"""--cluster ray: the same checks as local workers, over Ray actors on a local 2-CPU cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loadscope.engine.control import worker_pool
from loadscope.engine.target import TargetProcess

from . import workers_checks as checks

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.timeout(600)  # a cold local cluster starts slowly on a busy machine


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster of 2 CPUs for the module; its address lets the CLI join it."""
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield str(context.address_info["address"])
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def own_target() -> Iterator[TargetProcess]:
    with TargetProcess() as server:
        yield server


@pytest.mark.slow
def test_ray_workers_count_exactly_what_the_target_saw(
    own_target: TargetProcess, cluster: str
) -> None:
    checks.check_cli_counts(own_target, ("--cluster", "ray"), env={"RAY_ADDRESS": cluster})


@pytest.mark.slow
def test_ray_live_concurrency_reaches_both_workers(own_target: TargetProcess, cluster: str) -> None:
    checks.check_live_concurrency(own_target, worker_pool("ray"))


@pytest.mark.slow
def test_ray_runn_i_is_unique_across_workers(
    own_target: TargetProcess, cluster: str, tmp_path: Path
) -> None:
    checks.check_runn_i_unique(own_target, worker_pool("ray"), tmp_path)


@pytest.mark.slow
def test_ray_pause_resume_and_nothing_left_open(own_target: TargetProcess, cluster: str) -> None:
    checks.check_pause_resume_and_clean_stop(own_target, worker_pool("ray"))


@pytest.mark.slow
def test_ray_rows_name_the_node(own_target: TargetProcess, cluster: str) -> None:
    from loadscope.engine import SessionConfig
    from loadscope.engine.control import ScenarioSpec

    spec = ScenarioSpec(url=f"{own_target.http_url}/")
    control = checks.controller(spec, SessionConfig(concurrency=2), worker_pool("ray"))
    try:
        checks.wait_snapshot(control, lambda s: s.requests_total > 0, "traffic")
    finally:
        final = checks.stop(control)
    assert final.cluster == "ray"
    assert len(final.workers) == 2
    assert all(w.node for w in final.workers)


@pytest.mark.slow
def test_a_cluster_address_nobody_listens_on_is_one_line_and_exit_2(
    own_target: TargetProcess,
) -> None:
    import socket

    from .cli_support import loadscope

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = loadscope(
        "run",
        f"{own_target.http_url}/",
        "-d",
        "1s",
        "--workers",
        "2",
        "--cluster",
        f"ray://127.0.0.1:{port}",
    )
    assert result.code == 2
    assert f"Ray cluster at ray://127.0.0.1:{port} is not reachable" in result.error_line()


@pytest.mark.slow  # starts Ray
async def test_ray_one_command_sequence_leaves_what_it_leaves_everywhere(
    own_target: TargetProcess, cluster: str
) -> None:
    """The command sequence of test_controls, over Ray actors: the same results."""
    from .test_controls import run_on_workers

    await run_on_workers(own_target, worker_pool("ray"))
