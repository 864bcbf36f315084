"""Splitting one session's load over N workers: VUs, rate, caps, stages and iterations."""

from __future__ import annotations

import dataclasses

from .._config import SessionConfig, Stage


def split_count(total: int, parts: int) -> list[int]:
    """`total` as `parts` whole shares that differ by at most one: 51 over 2 is [26, 25]."""
    base, extra = divmod(max(0, total), parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def split_amount(total: float, parts: int) -> list[float]:
    return [total / parts] * parts


def share(total: int, index: int, parts: int) -> int:
    return split_count(total, parts)[index]


def worker_config(config: SessionConfig, index: int, parts: int) -> SessionConfig:
    """Worker `index` (0-based) of `parts`: its share of the load. The detectors run once, on
    the merged data, so no worker runs its own. Every worker's kernel view counts only its own
    sockets (its own local ports), so the views add up to the machine's without overlap."""
    return dataclasses.replace(
        config,
        concurrency=share(config.concurrency, index, parts),
        rate=config.rate / parts if config.rate is not None else None,
        max_vus=_max_vus(config, index, parts),
        max_iterations_per_second=(
            config.max_iterations_per_second / parts
            if config.max_iterations_per_second
            else config.max_iterations_per_second
        ),
        max_iterations=_iterations(config, index, parts),
        stages=tuple(_stage_share(config, stage, index, parts) for stage in config.stages),
        detectors=False,
        labels=dict(config.labels),
    )


def _busy(config: SessionConfig, parts: int) -> list[int]:
    """The workers that get VUs: in the closed model, -c 1 over 2 workers leaves one idle."""
    if config.open_model:
        return list(range(parts))
    peak = max([config.concurrency, *(round(stage.target) for stage in config.stages)])
    return [k for k, vus in enumerate(split_count(peak, parts)) if vus > 0] or list(range(parts))


def _iterations(config: SessionConfig, index: int, parts: int) -> int | None:
    """`--iterations`, shared by the workers that have VUs to run them (none for the rest)."""
    if config.max_iterations is None:
        return None
    busy = _busy(config, parts)
    if index not in busy:
        return 0
    return split_count(config.max_iterations, len(busy))[busy.index(index)]


def _max_vus(config: SessionConfig, index: int, parts: int) -> int:
    """The cap split like the VUs, in both models, so the workers' caps add up to the session's
    (in the closed model it is only reported)."""
    return max(1, share(config.effective_max_vus(), index, parts))


def _stage_share(config: SessionConfig, stage: Stage, index: int, parts: int) -> Stage:
    if config.open_model:
        return Stage(stage.duration, stage.target / parts)
    return Stage(stage.duration, share(round(stage.target), index, parts))
