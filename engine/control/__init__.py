"""Control: where a session runs (in this process, a child process, N worker processes or Ray
actors) behind one controller API: `Controller`, which is the session's `Controls` plus the
snapshots it sends."""

from ._controller import Controller
from ._process import PUSH_INTERVAL, EngineProcess
from ._runtime import WorkerRole
from ._spec import ScenarioSpec
from ._split import split_count, worker_config
from ._workers import (
    ClusterError,
    LocalPool,
    WorkerController,
    WorkerHandle,
    WorkerPool,
    available_cores,
    worker_pool,
)

__all__ = [
    "PUSH_INTERVAL",
    "ClusterError",
    "Controller",
    "EngineProcess",
    "LocalPool",
    "ScenarioSpec",
    "WorkerController",
    "WorkerHandle",
    "WorkerPool",
    "WorkerRole",
    "available_cores",
    "split_count",
    "worker_config",
    "worker_pool",
]
