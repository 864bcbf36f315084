"""Control: where a session runs (in this process, a child process, N worker processes or Ray
actors) behind one controller API: `Controller`, which is the session's `Controls` plus the
snapshots it sends."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

# Imported when first used (`__getattr__`): a run in this process needs `ScenarioSpec`, not the
# child processes, worker pools and their multiprocessing behind the rest.
if TYPE_CHECKING:
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

_EXPORTS = {
    "Controller": "._controller",
    "PUSH_INTERVAL": "._process",
    "EngineProcess": "._process",
    "WorkerRole": "._runtime",
    "ScenarioSpec": "._spec",
    "split_count": "._split",
    "worker_config": "._split",
    "ClusterError": "._workers",
    "LocalPool": "._workers",
    "WorkerController": "._workers",
    "WorkerHandle": "._workers",
    "WorkerPool": "._workers",
    "available_cores": "._workers",
    "worker_pool": "._workers",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
