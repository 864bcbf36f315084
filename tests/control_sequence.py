"""One sequence of commands, sent through the one dispatcher to a session wherever it runs (in
this process, a child process, local workers, Ray actors); what it leaves is compared across
them. Each step waits (on a deadline) until the session shows it before the next is sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loadscope.engine import (
    Controls,
    HttpVersion,
    Pause,
    ResetStats,
    Resume,
    ReuseMode,
    SetConcurrency,
    SetHttpVersion,
    SetRate,
    SetReuseMode,
    Snapshot,
    apply,
)

WAIT = 60.0
CONTROL_EVENTS = ("concurrency", "reuse", "http", "pause", "resume", "reset")
VUS = 4


@dataclass(frozen=True)
class Observed:
    """What the sequence leaves, as a user of any controller sees it."""

    concurrency: int
    vus_seen: int
    reuse_mode: str
    http_version: str
    state: str
    stats_since: str
    level_set_by_hand: bool
    refused: str
    control_events: tuple[str, ...]


async def wait_until(
    poll: Callable[[], Snapshot | None], condition: Callable[[Snapshot], bool], what: str
) -> Snapshot:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        snap = poll()
        if snap is not None and condition(snap):
            return snap
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {poll()}")


async def run_sequence(
    controls: Controls,
    poll: Callable[[], Snapshot | None],
    errors: Callable[[], list[str]],
    finish: Callable[[], Awaitable[Snapshot]],
) -> Observed:
    """`poll` takes in what the session sent; `errors` are the commands it refused; `finish`
    stops the session and returns its final snapshot."""
    await wait_until(poll, lambda s: s.state == "running", "the start")
    apply(SetConcurrency(VUS), controls)
    seen = await wait_until(poll, lambda s: s.vus == VUS, f"{VUS} VUs")
    apply(SetReuseMode(ReuseMode.PER_VU), controls)
    await wait_until(poll, lambda s: s.reuse_mode == "per-vu", "the reuse mode")
    apply(SetHttpVersion(HttpVersion.HTTP1), controls)
    await wait_until(poll, lambda s: s.http_version == "http1", "the HTTP version")
    apply(Pause(), controls)
    await wait_until(poll, lambda s: s.state == "paused", "the pause")
    apply(Resume(), controls)
    await wait_until(poll, lambda s: s.state == "running", "the resume")
    apply(ResetStats(), controls)
    await wait_until(poll, lambda s: s.stats_since == "reset", "the reset")
    refused = await _refused(controls, poll, errors)
    final = await finish()
    return Observed(
        concurrency=final.concurrency,
        vus_seen=seen.vus,
        reuse_mode=final.reuse_mode,
        http_version=final.http_version,
        state=final.state,
        stats_since=final.stats_since,
        level_set_by_hand=final.level_set_by_hand,
        refused=refused,
        control_events=tuple(e.kind for e in final.events if e.kind in CONTROL_EVENTS),
    )


async def _refused(
    controls: Controls, poll: Callable[[], Snapshot | None], errors: Callable[[], list[str]]
) -> str:
    """A rate for a closed-model session: refused at once here, reported back from elsewhere."""
    try:
        apply(SetRate(5), controls)
    except ValueError as exc:
        return str(exc)
    deadline = time.monotonic() + WAIT
    while not errors() and time.monotonic() < deadline:
        poll()
        await asyncio.sleep(0.05)
    assert errors(), "the refusal never came back"
    return errors()[-1]


EXPECTED = Observed(
    concurrency=VUS,
    vus_seen=VUS,
    reuse_mode="per-vu",
    http_version="http1",
    state="stopped",
    stats_since="reset",
    level_set_by_hand=True,
    refused="set_rate needs an open-model session (started with a rate)",
    control_events=CONTROL_EVENTS,
)
