from __future__ import annotations

from pathlib import Path

from loadscope.engine import SessionConfig
from loadscope.engine.runbook import load_runbooks
from loadscope.engine.target import TargetProcess

from .helpers import run_session


async def test_runbook_dump_goes_to_the_event_log_throttled(
    target: TargetProcess, tmp_path: Path
) -> None:
    book = tmp_path / "dump.yml"
    book.write_text(
        f"runners:\n  req: {target.http_url}\n"
        "steps:\n  show:\n    req:\n      /json:\n        get: {}\n"
        "    dump: current.res.status\n"
    )
    session = await run_session(
        SessionConfig(concurrency=2, duration=1.5), load_runbooks([str(book)])
    )
    dumps = [e for e in session.events if e.kind == "dump"]
    assert dumps and all(e.message == "dump:show: 200" for e in dumps)
    assert len(dumps) <= 3  # at most one a second per step, however many iterations ran
    assert session.metrics.iterations > 50
