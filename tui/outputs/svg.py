"""Charts as inline SVG, written directly.

Why no chart library: the report must work offline from one file, so a library would be
embedded whole (hundreds of kilobytes of JavaScript for a handful of line charts), run script
in the reader's browser, and follow its own release cycle. The charts here are static
polylines, bars and axes: a few dozen lines of SVG text, no script, printable, and readable in
any browser or image viewer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH = 880
HEIGHT = 230
LEFT, RIGHT, TOP, BOTTOM = 58, 16, 30, 30


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per x; None leaves a gap
    color: str
    bars: bool = False  # drawn as bars (counts per second) instead of a line


@dataclass(frozen=True)
class Marker:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    xs: Sequence[float]
    series: Sequence[Series]
    unit: str = ""
    markers: Sequence[Marker] = field(default_factory=tuple)


def nice_ceiling(value: float) -> tuple[float, float]:
    """A round top for the y axis at or above `value`, and the step between its 5 ticks."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(value / step), step


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.3g}"


class _Frame:
    """Maps data to pixels inside the plot area."""

    def __init__(self, x_low: float, x_high: float, y_high: float) -> None:
        self.x_low, self.x_span = x_low, max(x_high - x_low, 1e-9)
        self.y_high = y_high
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - TOP - BOTTOM

    def x(self, value: float) -> float:
        return LEFT + (value - self.x_low) / self.x_span * self.plot_w

    def y(self, value: float) -> float:
        return TOP + self.plot_h - value / self.y_high * self.plot_h


def line_chart(chart: Chart) -> str:
    values = [v for s in chart.series for v in s.values if v is not None]
    if not chart.xs or not values:
        return _empty(chart.title)
    top, step = nice_ceiling(max(values))
    frame = _Frame(min(chart.xs) - 1, max(chart.xs), top)
    parts = [_open(chart.title), *_y_axis(frame, top, step, chart.unit), *_x_axis(frame)]
    bar_width = max(1.0, frame.plot_w / frame.x_span * 0.8)
    for series in chart.series:
        if series.bars:
            parts += _bars(frame, chart.xs, series, bar_width)
        else:
            parts += _lines(frame, chart.xs, series)
    parts += _markers(frame, chart.markers)
    parts.append(_legend(chart.series))
    parts.append("</svg>")
    return "\n".join(parts)


def histogram_chart(title: str, bins: Sequence[tuple[float, float, int]], color: str) -> str:
    """Bars over log-spaced latency bins: (low_ms, high_ms, count)."""
    if not bins or not any(count for _, _, count in bins):
        return _empty(title)
    top, step = nice_ceiling(max(count for _, _, count in bins))
    frame = _Frame(0, len(bins), top)
    parts = [_open(title), *_y_axis(frame, top, step, "")]
    width = frame.plot_w / len(bins)
    for index, (low, high, count) in enumerate(bins):
        x, y = frame.x(index), frame.y(count)
        tip = f"{low:.3g}–{high:.3g} ms: {count:,}"
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{width - 2:.1f}" '
            f'height="{frame.y(0) - y:.1f}" fill="{color}"><title>{escape(tip)}</title></rect>'
        )
        if index % max(1, len(bins) // 8) == 0:
            parts.append(_x_label(x, f"{low:.3g}"))
    parts.append(_x_label(frame.x(len(bins)), f"{bins[-1][1]:.3g} ms", anchor="end"))
    parts.append("</svg>")
    return "\n".join(parts)


def _open(title: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">'
        f'<text class="title" x="{LEFT}" y="18">{escape(title)}</text>'
    )


def _empty(title: str) -> str:
    return (
        f'{_open(title)}<text class="axis" x="{WIDTH / 2}" y="{HEIGHT / 2}" '
        f'text-anchor="middle">no data</text></svg>'
    )


def _y_axis(frame: _Frame, top: float, step: float, unit: str) -> list[str]:
    parts = []
    ticks = round(top / step)
    for i in range(ticks + 1):
        value = step * i
        y = frame.y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_number(value) + unit)}</text>"
        )
    return parts


def _x_axis(frame: _Frame) -> list[str]:
    low, high = frame.x_low, frame.x_low + frame.x_span
    _, step = nice_ceiling(high - low)
    parts = []
    tick = math.ceil(low / step) * step
    while tick <= high:
        parts.append(_x_label(frame.x(tick), f"{_number(tick)}s"))
        tick += step
    return parts


def _x_label(x: float, text: str, anchor: str = "middle") -> str:
    return (
        f'<text class="axis" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="{anchor}">'
        f"{escape(text)}</text>"
    )


def _lines(frame: _Frame, xs: Sequence[float], series: Series) -> list[str]:
    """One polyline per run of known values."""
    runs: list[list[str]] = [[]]
    for x, value in zip(xs, series.values, strict=False):
        if value is None:
            runs.append([])
            continue
        runs[-1].append(f"{frame.x(x):.1f},{frame.y(value):.1f}")
    return [
        f'<polyline fill="none" stroke="{series.color}" stroke-width="1.8" '
        f'points="{" ".join(run)}"><title>{escape(series.name)}</title></polyline>'
        for run in runs
        if run
    ]


def _bars(frame: _Frame, xs: Sequence[float], series: Series, width: float) -> list[str]:
    parts = []
    for x, value in zip(xs, series.values, strict=False):
        if not value:
            continue
        y = frame.y(value)
        parts.append(  # the bar covers the second that ends at x
            f'<rect x="{frame.x(x) - width:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="{frame.y(0) - y:.1f}" fill="{series.color}" opacity="0.75">'
            f"<title>{escape(f'{series.name} at {_number(x)}s: {_number(value)}')}</title></rect>"
        )
    return parts


def _markers(frame: _Frame, markers: Sequence[Marker]) -> list[str]:
    parts = []
    for number, marker in enumerate(markers, 1):
        x = frame.x(marker.x)
        parts.append(
            f'<g class="marker"><title>{escape(marker.label)}</title>'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
            f'<text x="{x + 3:.1f}" y="{TOP + 10}">{number}</text></g>'
        )
    return parts


def _legend(series: Sequence[Series]) -> str:
    parts = []
    x = WIDTH - RIGHT
    for item in reversed(series):
        x -= 12 + 7 * len(item.name) + 14
        parts.append(
            f'<rect x="{x}" y="9" width="10" height="10" fill="{item.color}"/>'
            f'<text class="axis" x="{x + 14}" y="18">{escape(item.name)}</text>'
        )
    return "".join(parts)
