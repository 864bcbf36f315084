"""The session's runners and the connection scopes its VUs draw from: one shared pool per
runner, each VU's own (per VU, per iteration), or a scope that never reuses a connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from .._config import CloseReason, HttpVersion, ReuseMode, RunnerConfig, SessionConfig
from ..diagnostics import ConnectionLedger
from ..transport import PoolScope, Runner
from ._crowd import Crowd


class Connections:
    """The runners (one per target) and how the session's connections are reused."""

    def __init__(
        self, config: SessionConfig, runner_configs: Sequence[RunnerConfig], crowd: Crowd
    ) -> None:
        self.ledger = ConnectionLedger()
        self.runners: dict[str, Runner] = {
            rc.name: Runner(rc, config, self.ledger) for rc in runner_configs
        }
        self.reuse_mode = config.reuse_mode
        self.http_version = config.http_version
        self._config = config
        self._crowd = crowd
        self._no_reuse: dict[str, PoolScope] = {}

    def prepare(self) -> None:
        for runner in self.runners.values():
            runner.prepare_tls()

    def no_reuse_scope(self, runner: Runner) -> PoolScope:
        scope = self._no_reuse.get(runner.name)
        if scope is None:
            scope = self._no_reuse[runner.name] = runner.new_scope(keep=1, reuse=False)
        return scope

    def switch_reuse_mode(self, mode: ReuseMode) -> None:
        self.reuse_mode = mode
        for runner in self.runners.values():
            runner.replace_shared(CloseReason.MODE_SWITCH)
        self._drop_private_scopes(CloseReason.MODE_SWITCH)

    def switch_http_version(self, version: HttpVersion) -> None:
        self.http_version = version
        for runner in self.runners.values():
            runner.switch_http_version(version)
        self._drop_private_scopes(CloseReason.MODE_SWITCH)

    def resize(self, vus: int) -> None:
        """Keep as many idle connections as `vus` VUs need."""
        for runner in self.runners.values():
            runner.resize(self._config.pool_keep(vus))

    def sweep(self) -> None:
        now = time.monotonic()
        for runner in self.runners.values():
            runner.sweep(now)

    async def close(self) -> None:
        self._drop_private_scopes(CloseReason.SESSION_END)
        await asyncio.gather(*(runner.aclose() for runner in self.runners.values()))

    def _drop_private_scopes(self, reason: CloseReason) -> None:
        self._crowd.drop_scopes(reason)
        for scope in self._no_reuse.values():
            scope.retire(reason)
        self._no_reuse.clear()

    def describe(self) -> str:
        """`reuse shared, HTTP/1.1 (auto: ...)`: how the session starts, for the event log."""
        tls = any(runner.base_url.scheme == "https" for runner in self.runners.values())
        auto = "HTTP by ALPN" if tls else "HTTP/1.1 (auto: h2 needs TLS, or h2c)"
        versions = {"auto": auto, "http1": "HTTP/1.1", "http2": "HTTP/2", "http3": "HTTP/3 (QUIC)"}
        version = versions.get(self.http_version.value, self.http_version.value)
        routes = sorted({r.route.describe() for r in self.runners.values() if not r.route.direct})
        via = "".join(f", via {route}" for route in routes)
        return f"reuse {self.reuse_mode.value}, {version}{via}"
