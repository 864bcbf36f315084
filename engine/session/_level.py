"""The session's load level: VUs (closed model) or iterations a second (open model), set by the
controls, by the stages, or from the start."""

from __future__ import annotations

from .._config import SessionConfig, Stage
from ..metrics import EventKind
from ._crowd import Crowd
from ._events import EventLog
from ._scopes import Connections


class LoadLevel:
    """Where the load stands, and what moving it takes (VUs started or retired, pools sized)."""

    def __init__(
        self, config: SessionConfig, crowd: Crowd, connections: Connections, log: EventLog
    ) -> None:
        self.concurrency = max(0, config.concurrency)
        self.rate = config.rate
        self.max_vus = config.effective_max_vus()
        self.set_by_hand = False  # a control changed the level (not the plan or the stages)
        self.accepting = False  # new iterations may start; VUs follow the level
        self._config = config
        self._crowd = crowd
        self._connections = connections
        self._log = log

    def current(self) -> float:
        return float((self.rate or 0.0) if self._config.open_model else self.concurrency)

    def begin(self) -> None:
        """The run starts: the closed model's VUs start (the stages ramp from zero; from -c
        after a warm-up, as they begin when it ends)."""
        self.accepting = True
        if self._config.open_model:
            return
        if self._config.stages and not self._config.warm_up > 0:
            self.concurrency = 0
        self._apply(self.concurrency)

    def set_concurrency(self, n: int) -> None:
        n = max(0, int(n))
        self.set_by_hand = True
        if self._config.open_model:
            before, self.max_vus = self.max_vus, max(1, n)
            self._log.event(
                EventKind.MAX_VUS, f"max VUs → {self.max_vus}", before=before, after=self.max_vus
            )
            self._connections.resize(self.max_vus)
            return
        if n == self.concurrency and len(self._crowd.live()) == n:
            return
        self._log.event(
            EventKind.CONCURRENCY,
            f"concurrency {self.concurrency} → {n}",
            before=self.concurrency,
            after=n,
        )
        self.concurrency = n
        if self.accepting:
            self._apply(n)

    def set_rate(self, rate: float) -> None:
        if not self._config.open_model:
            raise ValueError("set_rate needs an open-model session (started with a rate)")
        rate = max(0.0, float(rate))
        self.set_by_hand = True
        before = self.rate or 0.0
        self._log.event(
            EventKind.RATE, f"rate {before:g}/s → {rate:g}/s", before=before, after=rate
        )
        self.rate = rate

    def follow_stage(self, value: float) -> None:
        """The stages' level now (VUs rounded to the nearest whole one)."""
        if self._config.open_model:
            self.rate = value
            return
        n = round(value)
        if n != self.concurrency or len(self._crowd.live()) != n:
            self.concurrency = n
            if self.accepting:
                self._apply(n)

    def announce_stage(self, number: int, stage: Stage, level: float) -> None:
        self._log.event(
            EventKind.STAGE,
            f"stage {number}: → {stage.target:g} over {stage.duration:g}s",
            before=level,
            after=stage.target,
        )

    def describe(self) -> str:
        if self._config.open_model:
            return f"open model at {self.rate:g} it/s (max {self.max_vus} VUs)"
        then = ", the stages after the warm-up" if self._config.warm_up > 0 else ", then the stages"
        return f"{self.concurrency} VUs" + (then if self._config.stages else "")

    def _apply(self, n: int) -> None:
        self._crowd.resize(n)
        self._connections.resize(n)
