"""The dashboard's panel: a bordered box that zooms to full screen when clicked."""

from __future__ import annotations

from textual import events
from textual.containers import Vertical
from textual.reactive import var

from engine import Snapshot


class Panel(Vertical):
    """A titled box fed with snapshots. Subclasses implement `show(snapshot)`."""

    ALLOW_MAXIMIZE = True
    can_focus = True

    snapshot: var[Snapshot | None] = var(None, always_update=True)

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None and self.display:
            self.show(snapshot)

    def show(self, snapshot: Snapshot) -> None:
        raise NotImplementedError

    def on_click(self, event: events.Click) -> None:
        screen = self.screen
        if screen.maximized is self:
            screen.minimize()
        else:
            screen.maximize(self, container=False)
        event.stop()
