"""The app behind `loadscope watch`: one screen, the kernel view of one port."""

from __future__ import annotations

from collections import deque

from textual import events
from textual.app import App

from ..engine.diagnostics.kernel import SocketWatcher, WatchSample
from .screens.watch import HISTORY, WatchScreen

NARROW_WIDTH = 100


class WatchApp(App[int]):
    TITLE = "loadscope watch"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, watcher: SocketWatcher, run_for: float | None = None) -> None:
        super().__init__()
        self.watcher = watcher
        self.run_for = run_for
        self.samples: deque[WatchSample] = deque(maxlen=HISTORY)

    def on_mount(self) -> None:
        self.push_screen(WatchScreen(self.watcher, self.run_for, self.samples))

    def on_resize(self, event: events.Resize) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, WatchScreen):
                screen.set_class(event.size.width < NARROW_WIDTH, "-narrow")
