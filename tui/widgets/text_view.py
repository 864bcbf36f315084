"""A widget that shows one renderable and redraws without asking for a new layout.

`Static.update` re-runs layout for auto-sized widgets; on a dashboard that refreshes several
times a second that dominates the console's CPU. Panels give these views fixed heights instead.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget


class TextView(Widget):
    DEFAULT_CSS = """
    TextView { height: 1; }
    """

    def __init__(self, renderable: RenderableType = "", **kwargs) -> None:
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
            # Textual wraps Rich text regardless; a one-line legend must end in "…" instead.
            width = self.content_size.width
            if width and renderable.cell_len > width:
                renderable = renderable.copy()
                renderable.truncate(width, overflow="ellipsis")
        return renderable
