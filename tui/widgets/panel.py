"""The dashboard's panel: a bordered box that zooms to full screen when clicked."""

from __future__ import annotations

from textual import events, on
from textual.containers import Vertical
from textual.reactive import var

from ...engine import Snapshot


def redraw_key(snapshot: Snapshot, maximized: bool) -> tuple[object, ...]:
    """Panels redraw when a new second of data arrives or something the user did shows;
    snapshots come four times a second, and drawing dominates the console's CPU (in between,
    only running totals are redrawn: `Panel.show_live`)."""
    last = snapshot.timeline[-1].t if snapshot.timeline else -1
    return (
        last,
        len(snapshot.timeline),
        snapshot.state,
        snapshot.concurrency,
        snapshot.rate,
        snapshot.reuse_mode,
        snapshot.http_version,
        len(snapshot.events),
        len(snapshot.warnings),
        maximized,
    )


class Panel(Vertical):
    """A titled box fed with snapshots. Subclasses implement `show(snapshot)`."""

    ALLOW_MAXIMIZE = True
    can_focus = True

    snapshot: var[Snapshot | None] = var(None, always_update=True)

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._shown_key: tuple[object, ...] | None = None

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None or not self.display:
            return
        key = redraw_key(snapshot, self.has_class("-maximized"))
        if key != self._shown_key:
            self._shown_key = key
            self.show(snapshot)
        else:
            self.show_live(snapshot)

    def show(self, snapshot: Snapshot) -> None:
        raise NotImplementedError

    def show_live(self, snapshot: Snapshot) -> None:
        """Between two seconds of data: what keeps counting (running totals), if anything."""

    @on(events.Resize)
    def redraw_at_new_width(self) -> None:
        """Laid out (the first snapshot may come before) or resized: what is drawn to the
        panel's width is drawn again."""
        self._shown_key = None
        self.watch_snapshot(self.snapshot)

    def on_click(self, event: events.Click) -> None:
        screen = self.screen
        if screen.maximized is self:
            screen.minimize()
        else:
            screen.maximize(self, container=False)
        event.stop()
