from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from loadscope.engine.redact import forget_secrets
from loadscope.engine.target import TargetOptions, TargetProcess


@pytest.fixture(scope="session")
def target() -> Iterator[TargetProcess]:
    """The built-in target: HTTP/1.1 + h2c on one port, HTTPS (h2/http1.1) on another."""
    with TargetProcess(TargetOptions(tls=True)) as server:
        yield server


@pytest.fixture(autouse=True)
def no_secrets_from_other_tests() -> Iterator[None]:
    """The secrets to mask are process-wide (engine/redact.py): each test starts with none, and
    what it registers never masks another test's output, whatever the order."""
    forget_secrets()
    yield
    forget_secrets()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups first: the Ray tests (one worker, one Ray node at a time) take minutes on a busy
    machine, and started last they would be the whole suite's tail; the other groups are modules
    whose tests share one fixture's runs. Stable, so each module keeps its order and xdist's
    workers all see the same one."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than this process may use cores. Many tests wait on a
    subprocess or a socket, and the spare worker keeps the cores busy meanwhile (on 2 cores the
    whole suite took 242 s with 3 workers, 308 s with 2)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + 1
