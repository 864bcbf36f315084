"""One live line on stderr while a headless run goes, only when stderr is a terminal."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from ...engine import Session
from ...engine.durations import format_seconds
from ..format import counted


def progress_line(session: Session) -> str:
    snap_elapsed = session.elapsed()
    config = session.config
    total = config.duration or sum(stage.duration for stage in config.stages)
    clock = format_seconds(round(snap_elapsed, 1))
    if session.warming_up:
        clock = f"warm-up {format_seconds(round(session.session_elapsed(), 1))}"
    elif total:
        clock = f"{clock}/{format_seconds(total)}"
    rps = session.timeline[-1].rps if session.timeline else 0.0
    metrics = session.metrics
    vus = (
        f"{session.busy} busy VUs"
        if session.config.open_model
        else counted(session.concurrency, "VU")
    )
    return (
        f"[{clock}] {rps:,.0f} req/s  {metrics.requests:,} requests  "
        f"{metrics.errors:,} errors  {vus}  {session.ledger.open} conns  {session.state.value}"
    )


async def show_progress(session: Session, stream: TextIO = sys.stderr) -> None:
    try:
        while True:
            await asyncio.sleep(0.5)
            stream.write("\r\x1b[2K" + progress_line(session))
            stream.flush()
    finally:
        stream.write("\r\x1b[2K")
        stream.flush()
