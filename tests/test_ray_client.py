"""`--cluster ray://HOST:PORT` end to end: a Ray head started with its client server port, and
`loadscope run` joining it through Ray Client, as `pip install 'loadscope[ray]'` allows."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .cli_support import loadscope

# one Ray node on the host at a time: two contend for the same default ports
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("ray")]

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'loadscope[ray]')")
pytest.importorskip("grpc", reason="Ray Client needs ray[client] (grpcio)")

# Ray >= 2.5x turns token authentication on once a token exists (~/.ray/auth_token): the head
# then refuses a Ray Client that does not send it, which only RAY_AUTH_MODE=token makes it do.
AUTH = {"RAY_AUTH_MODE": "token"}
HEAD_READY_S = 300.0  # a cold head on a busy 2-core machine takes a while
HEAD_ENV = {
    # The head's client proxy gives a new client's server 30 s to come up: not enough on a
    # busy 2-core machine. A server that crashes is only seen once this runs out.
    "RAY_CLIENT_SERVER_CHECK_CHANNEL_TIMEOUT_S": "120",
    # With gRPC's fork support on, the proxy's first client server often crashes as it starts
    # ("skipping fork() handlers", then epoll on a bad descriptor). Tried here: without this,
    # the first client's server crashed; with it, none of six clients' on two cold heads did
    # (docs/workers.md tells users).
    "GRPC_ENABLE_FORK_SUPPORT": "0",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def head_temp_dir() -> Path:
    return Path("/tmp") / f"lsray{os.getpid()}"  # Ray's socket paths must stay short


def client_server_logs() -> str:
    """The tails of the head's client server logs: why a client's server died, if it did."""
    logs = sorted(head_temp_dir().glob("session_*/logs/ray_client_server*.err"))
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}" for log in logs)


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def ray_client_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head of 2 CPUs with its Ray Client server, stopped (our processes only) at the end."""
    command = shutil.which("ray")
    if command is None:
        pytest.skip("the `ray` command is not installed")
    client_port = free_port()
    temp = head_temp_dir()
    head = subprocess.Popen(
        [command, "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={free_port()}", f"--ray-client-server-port={client_port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **AUTH, **HEAD_ENV},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + HEAD_READY_S
        while not answers(client_port):
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.skip("the Ray head did not start (busy machine or no Ray runtime)")
            time.sleep(0.5)
        yield f"ray://127.0.0.1:{client_port}"
    finally:
        stop_head(head)
        shutil.rmtree(temp, ignore_errors=True)


def stop_head(head: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the head's own process group (--block stops what it started), then, after a
    few seconds (a graceful stop of every Ray process takes half a minute on a busy machine),
    SIGKILL to whatever of that group is left. The head's temp dir goes with it."""
    import psutil

    try:
        family = [head.pid, *(p.pid for p in psutil.Process(head.pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        family = [head.pid]
    with contextlib.suppress(ProcessLookupError):  # a head that died while starting
        os.killpg(head.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        head.wait(timeout=5)
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def test_run_joins_a_cluster_through_ray_client(
    target: TargetProcess, ray_client_address: str
) -> None:
    result = loadscope(
        "run", f"{target.http_url}/", "-c", "2", "-d", "2s", "--workers", "2",
        "--cluster", ray_client_address, "--format", "json",
        timeout=600,
        # Ray Client starts a server process per client: slow on a busy 2-core machine, so
        # give its connection more than Ray's default 5 s first try (35 s over 3 tries)
        env={**AUTH, "RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S": "60"},
    )  # fmt: skip
    assert result.code == 0, f"{result.err}\n{client_server_logs()}"
    report = result.json()
    assert report["cluster"] == "ray" and report["requests_total"] > 0
    nodes = {worker["node"] for worker in report["per_worker"]}
    assert all(re.search(r" \d+\.\d+\.\d+\.\d+ node [0-9a-f]{8}$", node) for node in nodes), nodes
