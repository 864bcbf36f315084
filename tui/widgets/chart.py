"""Chart widgets: they keep the data they were given and draw it at whatever size they have."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.widget import Widget

from ._charts import Marker, Series, area_chart, line_chart


class TimeChart(Widget):
    """A per-second chart: `area` stacks its series, `line` draws them in braille."""

    DEFAULT_CSS = """
    TimeChart { height: 1fr; min-height: 3; }
    """

    def __init__(
        self, kind: str = "area", unit: str = "", peak: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.unit = unit
        self.peak = peak
        self._series: Sequence[Series] = ()
        self._markers: Sequence[Marker] = ()
        self._t_end = 0.0
        self._key: tuple[object, ...] = ()

    def plot(self, series: Sequence[Series], t_end: float, markers: Sequence[Marker] = ()) -> None:
        """Redraw only when a new second (or marker) arrived: series change once a second."""
        key = (
            t_end,
            tuple((len(s.values), s.values[-1] if s.values else None) for s in series),
            tuple(markers),
        )
        if key == self._key:
            return
        self._key = key
        self._series, self._t_end, self._markers = series, t_end, markers
        self.refresh()

    def render(self) -> Group | Text:
        width, height = self.content_size
        if not self._series or not any(s.values for s in self._series):
            return Text("waiting for the first second of data…", style="dim")
        draw = area_chart if self.kind == "area" else line_chart
        extra = {"peak": self.peak} if self.kind == "line" else {}
        lines = draw(
            self._series,
            width,
            height,
            t_end=self._t_end,
            markers=self._markers,
            unit=self.unit,
            **extra,
        )
        return Group(*lines)


def legend(series: Sequence[Series]) -> Text:
    """`■ name  ■ name`, in each series' colour."""
    text = Text()
    for one in series:
        if one.label:
            text.append("■ ", style=one.style)
            text.append(one.label + "  ", style="dim")
    return text
