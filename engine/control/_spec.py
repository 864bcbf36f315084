"""A picklable description of what to run, so a child process can build the same scenario."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .._config import DEFAULT_MAX_HEADER_SIZE
from ..runbook import RunbookOptions, load_runbooks
from ..session.scenario import DEFAULT_EXPECTED_STATUS, Scenario, UrlScenario


@dataclass(frozen=True)
class ScenarioSpec:
    url: str | None = None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    runbooks: tuple[str, ...] = ()
    vars: Mapping[str, object] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)  # added to os.environ for ${ENV}
    expect_status: str = DEFAULT_EXPECTED_STATUS  # the URL form only; runbooks `test` statuses
    runbook_options: RunbookOptions = field(default_factory=RunbookOptions)
    # The URL form: follow at most this many redirects (None: do not follow), as runbooks do
    max_redirects: int | None = None
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE  # --max-header-size, every runner

    def build(self) -> Scenario:
        if self.runbooks:
            env = {**os.environ, **self.env}
            scenario = load_runbooks(
                list(self.runbooks), dict(self.vars), env=env, options=self.runbook_options
            )
            if self.headers:
                scenario.add_headers(self.headers)
            scenario.limit_header_size(self.max_header_size)
            return scenario
        if self.url is None:
            raise ValueError("nothing to run: give a URL or a runbook")
        if self.max_redirects is None:
            return UrlScenario(
                self.url,
                self.method,
                self.headers,
                self.body,
                expect_status=self.expect_status,
                max_header_size=self.max_header_size,
            )
        return UrlScenario(  # the shared contract's keyword (the runbook branch implements it)
            self.url,
            self.method,
            self.headers,
            self.body,
            expect_status=self.expect_status,
            max_header_size=self.max_header_size,
            max_redirects=self.max_redirects,  # type: ignore[call-arg,unused-ignore]
        )

    def describe(self) -> str:
        return ", ".join(self.runbooks) if self.runbooks else f"{self.method} {self.url}"
