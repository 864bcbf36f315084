"""A widget that shows one renderable and redraws without asking for a new layout.

`Static.update` re-runs layout for auto-sized widgets; on a dashboard that refreshes several
times a second that dominates the console's CPU. Panels give these views fixed heights instead.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget


class TextView(Widget):
    DEFAULT_CSS = """
    TextView { height: 1; }
    """

    def __init__(self, renderable: RenderableType = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._renderable: RenderableType = renderable

    def show(self, renderable: RenderableType) -> None:
        old = self._renderable
        if (
            isinstance(renderable, Text)
            and isinstance(old, Text)
            and renderable.plain == old.plain
            and renderable.spans == old.spans
        ):
            return
        self._renderable = renderable
        self.refresh()

    def render(self) -> RenderableType:
        renderable = self._renderable
        if isinstance(renderable, Text) and renderable.no_wrap:
            # Textual wraps Rich text regardless; a line that does not fit must end in "…"
            # instead, or it would push the lines below it out of a fixed-height view.
            width = self.content_size.width
            lines = renderable.split("\n", allow_blank=True)
            if width and any(line.cell_len > width for line in lines):
                for line in lines:
                    line.truncate(width, overflow="ellipsis")
                renderable = Text("\n").join(lines)
        return renderable
