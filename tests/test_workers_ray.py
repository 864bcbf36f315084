"""--cluster ray: the same checks as local workers, over Ray actors on a local 2-CPU cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loadscope.engine.control import worker_pool
from loadscope.engine.target import TargetProcess

from . import workers_checks as checks

ray = pytest.importorskip("ray")

# a cold local cluster starts slowly on a busy machine; one Ray node on the host at a time
pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("ray")]


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


class ScriptedInit:
    """ray.init that fails with the given errors, in order, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, **_: object) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def lost_server() -> RuntimeError:
    return RuntimeError("Starting Ray client server failed. See ray_client_server_23000.err")


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    from loadscope.engine.control import _ray

    monkeypatch.setattr(_ray.time, "sleep", lambda _seconds: None)
    monkeypatch.setattr(_ray.ray, "shutdown", lambda: None)


def test_a_client_server_lost_while_starting_is_tried_again(
    monkeypatch: pytest.MonkeyPatch, no_waiting: None
) -> None:
    from loadscope.engine.control import _ray

    init = ScriptedInit(lost_server(), lost_server())
    monkeypatch.setattr(_ray.ray, "init", init)
    _ray._join("ray://127.0.0.1:1")
    assert init.calls == 3


def test_the_client_server_is_tried_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch, no_waiting: None
) -> None:
    from loadscope.engine.control import _ray

    init = ScriptedInit(*(lost_server() for _ in range(_ray.CLIENT_TRIES)))
    monkeypatch.setattr(_ray.ray, "init", init)
    with pytest.raises(RuntimeError, match="client server failed"):
        _ray._join("ray://127.0.0.1:1")
    assert init.calls == _ray.CLIENT_TRIES


def test_other_ray_errors_are_not_tried_again(
    monkeypatch: pytest.MonkeyPatch, no_waiting: None
) -> None:
    from loadscope.engine.control import _ray

    init = ScriptedInit(ConnectionError("authentication failed"))
    monkeypatch.setattr(_ray.ray, "init", init)
    with pytest.raises(ConnectionError):
        _ray._join("ray://127.0.0.1:1")
    assert init.calls == 1
