"""A weighted scenario mix (`loadscope run a.yml b.yml --mix 3:1`): each iteration runs one
runbook, chosen by weight as Locust weighs its tasks, instead of all of them in turn.

The choice is a smooth weighted round-robin: over any run of sum(weights) iterations each
runbook gets exactly its weight, interleaved (3:1 runs a, a, b, a, a, a, b, a, ...), so the
mix holds in short runs too and counts are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._config import RunnerConfig
from ..diagnostics import DiagnosticsExtension, SessionPort, SessionView, SnapshotFields
from ..metrics import MixRow
from ._scenario import RunbookScenario

if TYPE_CHECKING:
    from ..metrics import StepStats
    from ..session.scenario import VirtualUserView
    from ..transport import Runner


def parse_mix(text: str, runbooks: int) -> tuple[int, ...]:
    """`3:1` -> (3, 1); ValueError (one line) unless there is one whole weight per runbook,
    none negative and not all zero."""
    parts = text.split(":")
    if not all(part.strip().isdigit() for part in parts):
        raise ValueError(f"--mix: {text!r} is not whole weights joined by ':', e.g. 3:1")
    weights = tuple(int(part) for part in parts)
    if len(weights) != runbooks:
        raise ValueError(
            f"--mix: {len(weights)} weight{'s' if len(weights) != 1 else ''} ({text}) "
            f"for {runbooks} runbook{'s' if runbooks != 1 else ''}; give one per runbook"
        )
    if not any(weights):
        raise ValueError(f"--mix: {text}: at least one weight must be more than 0")
    return weights


class MixScenario:
    """A `RunbookScenario` whose iterations each run one of its runbooks, by weight."""

    def __init__(self, scenario: RunbookScenario, weights: Sequence[int]) -> None:
        if len(weights) != len(scenario.books):
            raise ValueError(f"--mix: {len(weights)} weights for {len(scenario.books)} runbooks")
        self.inner = scenario
        self.weights = tuple(weights)
        self.name = f"{scenario.name} (mix {':'.join(map(str, weights))})"
        self.iterations = [0] * len(weights)
        self.failed = [0] * len(weights)
        self._current = [0] * len(weights)
        self._total = sum(weights)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # warnings, phases, secret_values, add_headers...

    # -- the Scenario protocol ------------------------------------------------------------------
    def runner_configs(self) -> Sequence[RunnerConfig]:
        return self.inner.runner_configs()

    def step_names(self) -> Sequence[str]:
        return self.inner.step_names()

    def targets(self) -> Sequence[str]:
        return self.inner.targets()

    def prepare(self, runners: Mapping[str, Runner], steps: Mapping[str, StepStats]) -> None:
        self.inner.prepare(runners, steps)

    async def run_iteration(self, vu: VirtualUserView) -> None:
        index = self._pick()
        self.iterations[index] += 1
        try:
            await self.inner.books[index].run(vu)
        except Exception:
            self.failed[index] += 1
            raise

    @property
    def dump_sink(self) -> Callable[[str, Any], None] | None:
        return self.inner.dump_sink

    @dump_sink.setter
    def dump_sink(self, sink: Callable[[str, Any], None] | None) -> None:
        self.inner.dump_sink = sink

    # -- the mix --------------------------------------------------------------------------------
    def _pick(self) -> int:
        current = self._current
        for index, weight in enumerate(self.weights):
            current[index] += weight
        index = max(range(len(current)), key=current.__getitem__)
        current[index] -= self._total
        return index

    def rows(self) -> tuple[MixRow, ...]:
        return tuple(
            MixRow(path, weight, done, failed)
            for path, weight, done, failed in zip(
                self.inner.paths, self.weights, self.iterations, self.failed, strict=True
            )
        )

    def reset(self) -> None:
        self.iterations = [0] * len(self.weights)
        self.failed = [0] * len(self.weights)


class MixReport(DiagnosticsExtension):
    """A session extension: the mix's per-runbook rows in every snapshot (`Snapshot.mix`)."""

    def __init__(self, scenario: MixScenario) -> None:
        self.scenario = scenario

    def reset(self, view: SessionView, port: SessionPort) -> None:
        self.scenario.reset()

    def snapshot_fields(self) -> SnapshotFields:
        return SnapshotFields(mix=self.scenario.rows())
