"""The dashboard's panel: a bordered box that zooms to full screen when clicked."""

from __future__ import annotations

from textual import events, on
from textual.containers import Vertical
from textual.reactive import var

from ...engine import Snapshot


class Panel(Vertical):
    """A titled box fed with snapshots. Subclasses implement `show(snapshot)`.

    Every panel shows every snapshot it is handed, so the numbers on one screen are always of
    one moment (the app skips a poll that repeats the last snapshot). What is costly to draw
    (the charts, the histogram) skips its own redraw until its data changes, once a second."""

    ALLOW_MAXIMIZE = True
    can_focus = True

    snapshot: var[Snapshot | None] = var(None, always_update=True)

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None and self.display:
            self.show(snapshot)

    def show(self, snapshot: Snapshot) -> None:
        raise NotImplementedError

    @on(events.Resize)
    def redraw_at_new_width(self) -> None:
        """Laid out (the first snapshot may come before) or resized: what is drawn to the
        panel's width is drawn again."""
        self.watch_snapshot(self.snapshot)

    def on_click(self, event: events.Click) -> None:
        screen = self.screen
        if screen.maximized is self:
            screen.minimize()
        else:
            screen.maximize(self, container=False)
        event.stop()
