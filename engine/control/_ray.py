"""Workers as Ray actors: the only module of loadscope that imports Ray (`loadscope[ray]`).

Each actor reserves one CPU, actors spread across the cluster's nodes, and each runs the same
engine process a local worker is (`EngineProcess` with a role, on uvloop), so a session behaves
the same on Ray as on this machine; the actor only relays controls and snapshots. The first
actor on each node takes that node's kernel view.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import ray

from .._config import SessionConfig
from ..metrics import Snapshot
from ..redact import add_secrets
from ..session import Abort, Command, ControlError, Stop, describe
from ._process import EngineProcess
from ._runtime import WorkerRole, core_for
from ._spec import ScenarioSpec
from ._split import worker_config

REACH_TIMEOUT = 5.0  # seconds to reach the cluster's address (Ray itself retries for minutes)
PLACEMENT_TIMEOUT = 120.0  # seconds for Ray to place every actor (a cold local cluster is slow)
CLIENT_TRIES = 3  # Ray Client's head starts a server process per client, which a busy head can lose
CLIENT_SERVER_LOST = ("Starting Ray client server failed", "Proxy failed to Connect")
CLOSE_TIMEOUT = 10.0


class _Portable:
    """A setup callable that crosses into the actor's engine process by cloudpickle (Ray's
    serializer), so a function Ray could ship still works there."""

    def __init__(self, function: Callable[[Any], None]) -> None:
        self.payload: bytes = ray.cloudpickle.dumps(function)  # type: ignore[no-untyped-call]

    def __call__(self, session: Any) -> None:
        ray.cloudpickle.loads(self.payload)(session)


def node_label(hostname: str) -> str:
    """The host name, the node's IP and the start of Ray's node id: two nodes on one host (a
    test cluster, containers) share a host name but never an id."""
    node_id = ray.get_runtime_context().get_node_id()
    try:
        address = str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]
    except Exception:  # an address Ray cannot tell is no reason to lose the worker
        address = ""
    return " ".join(part for part in (hostname, address, f"node {node_id[:8]}") if part)


class _WorkerActor:
    """Runs on a Ray node: an engine process there, relayed."""

    def __init__(self) -> None:
        self.process: EngineProcess | None = None

    def node(self) -> tuple[str, str]:
        return ray.get_runtime_context().get_node_id(), socket.gethostname()

    def start(
        self,
        spec: ScenarioSpec,
        config: SessionConfig,
        push_interval: float,
        setup: Callable[[Any], None] | None,
        role: WorkerRole,
        slot: tuple[int, int] = (0, 1),
    ) -> None:
        """`slot`: this actor's place among the session's actors on its node (index, count),
        so each can have a core of its own there."""
        role = dataclasses.replace(role, cpu=core_for(*slot))
        portable = _Portable(setup) if setup is not None else None
        self.process = EngineProcess(
            spec, config, push_interval=push_interval, setup=portable, role=role
        )
        self.process.start()

    def send(self, command: Command) -> None:
        """A command the engine process cannot take comes back with the next poll's errors
        (the caller's `remote()` does not wait for this call)."""
        if self.process is None:
            return
        try:
            self.process.send(command)
        except ControlError as exc:
            self.process.errors.append(str(exc))

    def go(self) -> None:
        if self.process is not None:
            self.process.go()

    def poll(self) -> tuple[str | None, Snapshot | None, Snapshot | None, list[str], str | None]:
        """(node name once ready, latest snapshot, final snapshot, new errors, exit message)."""
        process = self.process
        if process is None:
            return None, None, None, [], None
        latest = process.updates()
        errors, process.errors = process.errors, []
        node = node_label(process.node) if process.node else None
        return node, latest, process.final, errors, process.exit_message

    def close(self) -> None:
        if self.process is not None:
            self.process.close(CLOSE_TIMEOUT / 2)


class RayWorker:
    """A `WorkerHandle` over a Ray actor: every call is asynchronous; `updates()` collects."""

    def __init__(
        self,
        actor: Any,
        start_args: tuple[Any, ...],
        role: WorkerRole,
        push_interval: float,
    ) -> None:
        self.actor = actor
        self.role: WorkerRole | None = role
        self.node: str | None = None
        self.final: Snapshot | None = None
        self.errors: list[str] = []
        self.exit_message: str | None = None
        self._start_args = start_args
        self._push_interval = push_interval
        self._latest: Snapshot | None = None
        self._pending: Any = None
        self._starting: Any = None
        self._asked_at = 0.0

    def start(self) -> None:
        self._starting = self.actor.start.remote(*self._start_args)

    @property
    def ready(self) -> bool:
        return self.node is not None

    def go(self) -> None:
        self.actor.go.remote()

    def send(self, command: Command) -> None:
        if self.finished:
            if isinstance(command, Stop | Abort):
                return  # nothing left to stop
            why = self.exit_message or "it has finished"
            raise ControlError(f"{describe(command)}: the Ray worker cannot take it: {why}")
        self.actor.send.remote(command)

    def updates(self) -> Snapshot | None:
        if self._starting is not None:
            self._check_started()
        if self._pending is not None:
            done, _ = ray.wait([self._pending], timeout=0)
            if done:
                self._take(done[0])
        now = time.monotonic()
        if self._pending is None and not self.finished and now - self._asked_at >= self._wait():
            self._pending, self._asked_at = self.actor.poll.remote(), now
        return self._latest

    def _check_started(self) -> None:
        done, _ = ray.wait([self._starting], timeout=0)
        if not done:
            return
        self._starting = None
        try:
            ray.get(done[0])
        except ray.exceptions.RayError as exc:
            self.exit_message = f"the Ray actor failed to start: {_last_line(exc)}"

    def _wait(self) -> float:
        return self._push_interval if self.ready else self._push_interval / 5

    def _take(self, ref: Any) -> None:
        self._pending = None
        try:
            node, latest, final, errors, exit_message = ray.get(ref)
        except ray.exceptions.RayError as exc:
            self.exit_message = f"the Ray actor failed: {_last_line(exc)}"
            return
        for snapshot in (latest, final):
            if snapshot is not None:
                add_secrets(snapshot.secrets_to_mask)
        self.node = node or self.node
        self._latest = final or latest or self._latest
        self.final = final
        self.errors += errors
        if exit_message is not None and final is None:
            self.exit_message = exit_message

    @property
    def finished(self) -> bool:
        return self.final is not None or self.exit_message is not None

    def close(self, timeout: float = 3.0) -> None:
        with contextlib.suppress(ray.exceptions.RayError):
            ray.get(self.actor.close.remote(), timeout=max(timeout, CLOSE_TIMEOUT))
        ray.kill(self.actor)


class RayPool:
    """Places the workers on a Ray cluster: `address` (ray://HOST:PORT, or "auto"), else
    RAY_ADDRESS, else a local cluster started here and stopped at the end."""

    cluster = "ray"

    def __init__(self, address: str | None = None, pin: bool = True) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.pin = pin  # actors on one node each get a core of their own there
        self._started_here = False

    def create(
        self,
        spec: ScenarioSpec,
        config: SessionConfig,
        count: int,
        setup: Callable[[Any], None] | None,
        push_interval: float,
    ) -> list[Any]:
        self._connect(count)
        remote = ray.remote(num_cpus=1)(_WorkerActor)
        actors = [
            remote.options(scheduling_strategy="SPREAD", name=None).remote() for _ in range(count)
        ]
        nodes = self._nodes(actors)
        node_ids = [node_id for node_id, _host in nodes]
        workers = []
        for index, (actor, node_id) in enumerate(zip(actors, node_ids, strict=True)):
            share = worker_config(config, index, count)
            role = WorkerRole(index + 1, count)
            slot = (node_ids[:index].count(node_id), node_ids.count(node_id))
            if not self.pin:
                slot = (0, 1)
            args = (spec, share, push_interval, setup, role, slot)
            workers.append(RayWorker(actor, args, role, push_interval))
        return workers

    def _connect(self, count: int) -> None:
        """Join the cluster, or start a local one; a failure is one line (RuntimeError)."""
        if ray.is_initialized():
            return
        if self.address:
            _check_reachable(self.address)
        try:
            if self.address:
                _join(self.address)
            else:
                cpus = max(count, os.cpu_count() or 1)
                ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        except Exception as exc:  # Ray raises plain Exception, ConnectionError, ValueError...
            where = self.address or "a local cluster"
            raise RuntimeError(f"Ray did not start ({where}): {_last_line(exc)}") from None
        self._started_here = True

    def _nodes(self, actors: list[Any]) -> list[tuple[str, str]]:
        try:
            nodes: list[tuple[str, str]] = ray.get(
                [actor.node.remote() for actor in actors], timeout=PLACEMENT_TIMEOUT
            )
        except ray.exceptions.GetTimeoutError:
            for actor in actors:
                ray.kill(actor)
            raise RuntimeError(
                f"Ray could not place {len(actors)} workers of one CPU each within "
                f"{PLACEMENT_TIMEOUT:g}s: does the cluster have that many free CPUs?"
            ) from None
        return nodes

    def shutdown(self) -> None:
        if self._started_here:
            ray.shutdown()
            self._started_here = False


def _join(address: str) -> None:
    """ray.init on a running cluster. Through Ray Client, the head starts one server process per
    client; when that process dies while starting (a busy head), the head reports it at once and
    a new attempt gets a new process, so try again a few times before giving up."""
    for attempt in range(1, CLIENT_TRIES + 1):
        try:
            ray.init(address=address, log_to_driver=False)
            return
        except Exception as exc:
            if attempt == CLIENT_TRIES or not any(s in str(exc) for s in CLIENT_SERVER_LOST):
                raise
            with contextlib.suppress(Exception):
                ray.shutdown()
            time.sleep(2.0 * attempt)


def _check_reachable(address: str) -> None:
    """Fail in seconds, in one line, when nothing listens at HOST:PORT (Ray itself retries for
    minutes). "auto" and other names without a port are left to Ray."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {REACH_TIMEOUT:g}s"
        raise RuntimeError(f"Ray cluster at {address} is not reachable: {reason}") from None


def _last_line(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__
