"""A picklable description of what to run, so a child process can build the same scenario."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._config import DEFAULT_MAX_HEADER_SIZE
from ..runbook import RunbookOptions
from ..session.scenario import DEFAULT_EXPECTED_STATUS, Scenario, UrlScenario

if TYPE_CHECKING:
    from ..session import TargetFeed


@dataclass(frozen=True)
class ScenarioSpec:
    """What to run: a URL, runbooks or a target list, and the options the scenario is built with."""

    url: str | None = None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    runbooks: tuple[str, ...] = ()
    vars: Mapping[str, object] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)  # added to os.environ for ${ENV}
    expect_status: str = DEFAULT_EXPECTED_STATUS  # the URL form only; runbooks `test` statuses
    targets: TargetFeed | None = None  # --targets: a list read before the start (or stdin's)
    targets_order: str = "round-robin"
    mix: tuple[int, ...] = ()  # --mix: a weight per runbook; each iteration runs one of them
    runbook_options: RunbookOptions = field(default_factory=RunbookOptions)  # --fail-fast ...
    max_redirects: int | None = None  # the URL form only (--follow-redirects); None: don't
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE  # --max-header-size, on every runner

    def build(self) -> Scenario:
        if self.targets is not None:
            from ..session import TargetListScenario  # --targets only

            order, status = self.targets_order, self.expect_status
            return TargetListScenario(self.targets, order, status, headers=self.headers)
        if self.runbooks:
            from ..runbook import MixScenario, load_runbooks  # the YAML reader and compiler

            env = {**os.environ, **self.env}
            scenario = load_runbooks(
                list(self.runbooks), dict(self.vars), env=env, options=self.runbook_options
            )
            if self.headers:
                scenario.add_headers(self.headers)
            scenario.limit_header_size(self.max_header_size)
            return MixScenario(scenario, self.mix) if self.mix else scenario
        if self.url is None:
            raise ValueError("nothing to run: give a URL or a runbook")
        return UrlScenario(
            self.url,
            self.method,
            self.headers,
            self.body,
            expect_status=self.expect_status,
            max_redirects=self.max_redirects,
            max_header_size=self.max_header_size,
        )

    def describe(self) -> str:
        if self.targets is not None:
            return f"targets {self.targets.source}"
        return ", ".join(self.runbooks) if self.runbooks else f"{self.method} {self.url}"
