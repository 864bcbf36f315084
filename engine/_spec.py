"""A picklable description of what to run, so a child process can build the same scenario."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .scenario import Scenario, UrlScenario


@dataclass(frozen=True)
class ScenarioSpec:
    url: str | None = None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    runbooks: tuple[str, ...] = ()
    vars: Mapping[str, object] = field(default_factory=dict)

    def build(self) -> Scenario:
        if self.runbooks:
            from .runbook import load_runbooks

            scenario = load_runbooks(list(self.runbooks), dict(self.vars))
            if self.headers:
                scenario.add_headers(self.headers)
            return scenario
        if self.url is None:
            raise ValueError("nothing to run: give a URL or a runbook")
        return UrlScenario(self.url, self.method, self.headers, self.body)

    def describe(self) -> str:
        return ", ".join(self.runbooks) if self.runbooks else f"{self.method} {self.url}"
