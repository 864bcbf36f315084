"""Control: where a session runs (in this process, a child process, N worker processes or Ray
actors) behind one controller API."""

from loadscope.engine.control._process import PUSH_INTERVAL, EngineProcess
from loadscope.engine.control._runtime import WorkerRole
from loadscope.engine.control._spec import ScenarioSpec
from loadscope.engine.control._split import split_count, worker_config
from loadscope.engine.control._workers import (
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
