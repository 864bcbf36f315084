"""The live `loadscope watch` view, driven by a pilot while a session churns the target."""

from __future__ import annotations

import pytest

from loadscope.engine import ReuseMode, Session, SessionConfig, UrlScenario
from loadscope.engine.diagnostics.kernel import SocketWatcher
from loadscope.engine.target import TargetOptions, TargetProcess
from loadscope.tui.screens.watch import WatchScreen
from loadscope.tui.watch_app import WatchApp

from .helpers import eventually


@pytest.mark.slow
async def test_watch_view_counts_new_connections_and_time_wait() -> None:
    with TargetProcess(TargetOptions()) as target:
        port = int(target.http_url.rsplit(":", 1)[1])
        app = WatchApp(SocketWatcher.for_address(f"127.0.0.1:{port}"))
        session = Session(
            SessionConfig(concurrency=4, duration=None, reuse_mode=ReuseMode.PER_ITERATION),
            UrlScenario(target.http_url),
        )
        async with app.run_test(size=(120, 30)) as pilot:
            await eventually(lambda: len(app.samples) >= 1, what="the first reading")
            before = target.accepted()
            await session.start()
            await eventually(lambda: target.accepted() >= before + 100, what="100 connections")
            await session.shutdown()
            opened = target.accepted() - before
            # The view's next readings catch up with the last of them.
            await eventually(
                lambda: abs(app.samples[-1].total_new - opened) <= max(3, opened * 0.05),
                what="the view to count them",
            )
            screen = app.screen
            assert isinstance(screen, WatchScreen)
            last = app.samples[-1]
            assert opened > 50
            assert abs(last.total_new - opened) <= max(3, opened * 0.05)
            assert last.time_wait_peak > 0
            numbers = screen.query_one("#watch-new-numbers").render().plain
            assert f"{last.total_new:,} total" in numbers
            await pilot.press("r")
            await pilot.resize_terminal(80, 24)
            await eventually(lambda: screen.has_class("-narrow"), what="the narrow layout")
