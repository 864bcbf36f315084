"""A run of hours keeps memory flat: everything kept per second or per event is a ring."""

from __future__ import annotations

from loadscope.engine import EventKind, Session, SessionConfig, UrlScenario
from loadscope.engine.session._events import EVENTS_KEPT


async def test_timeline_and_events_are_rings() -> None:
    config = SessionConfig(concurrency=1, timeline_limit=300)
    session = Session(config, UrlScenario("http://127.0.0.1:9/"))
    step = next(iter(session.steps.values()))
    for second in range(5000):  # well over an hour of ticks, with traffic and changes
        session.metrics.record_error(step, "connect_refused", "connection refused", 100)
        session.metrics.record_iteration(120, f"GET /: failure {second % 7}")
        session.event(
            EventKind.CONCURRENCY,
            f"concurrency {second} → {second + 1}",
            before=second,
            after=second + 1,
        )
        session.clock.tick()
    snap = session.snapshot(timeline=None)
    assert len(snap.timeline) == 300
    assert len(snap.events) == EVENTS_KEPT
    assert len(session.metrics.window) <= int(config.window)
    assert snap.requests_total == 5000 and len(snap.failures) == 7
    assert len(session.snapshot().timeline) <= 600  # what the console receives
