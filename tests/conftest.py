from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadscope.engine.target import TargetOptions, TargetProcess


@pytest.fixture(scope="session")
def target() -> Iterator[TargetProcess]:
    """The built-in target: HTTP/1.1 + h2c on one port, HTTPS (h2/http1.1) on another."""
    with TargetProcess(TargetOptions(tls=True)) as server:
        yield server
