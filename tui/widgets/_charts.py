"""Terminal charts drawn from per-second series: stacked area charts in eighth blocks and line
charts in braille, with a y scale, a time axis and labelled markers. Pure functions of data and
size, returning Rich `Text` lines, so they are cheap to redraw and easy to test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from ..format import bin_label, clock, compact, merge_equal_bins

EIGHTHS = " ▁▂▃▄▅▆▇█"
BRAILLE_BASE = 0x2800
# Dot bits of a braille cell, by (column, row) within the 2×4 cell.
BRAILLE_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600)
Y_LABEL_WIDTH = 6


@dataclass(frozen=True)
class Series:
    values: Sequence[float]  # one value per second, oldest first
    style: str
    label: str = ""
    # An area chart stacks its series; an overlay is drawn from zero in front of them instead,
    # for a count that is part of the others (errors/s among responses/s).
    overlay: bool = False


@dataclass(frozen=True)
class Marker:
    t: float  # seconds on the same clock as the series' last point `t_end`
    label: str


def nice_ceiling(value: float) -> float:
    """1, 2, 2.5 or 5 times a power of ten at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * power:
            return factor * power
    return 10 * power


def seconds_per_column(points: int, columns: int, per_cell: int = 1) -> int:
    """The finest step that shows (almost) all the history: up to 15% of the oldest may drop."""
    for step in STEPS:
        if points <= columns * per_cell * step * 1.15:
            return step
    return STEPS[-1]


def column_seconds(points: int, columns: int) -> int:
    """Seconds per column, the same for area and braille line charts of one width: charts
    stacked in one column share a time scale, so their change markers line up."""
    return 2 * seconds_per_column(points, columns, per_cell=2)


def bucket(values: Sequence[float], step: int, count: int, *, peak: bool = False) -> list[float]:
    """The last `count` buckets of `step` seconds each (mean, or max with `peak`), oldest first."""
    buckets: list[float] = []
    end = len(values)
    while end > 0 and len(buckets) < count:
        chunk = values[max(0, end - step) : end]
        buckets.append(max(chunk) if peak else sum(chunk) / len(chunk))
        end -= step
    buckets.reverse()
    return buckets


def axis_label(value: float, unit: str) -> str:
    """An axis value in at most 5 cells: counts as 950, 1.2k, 45k; milliseconds as 250ms
    below a second and 1.5s, 50s above (never "50kms")."""
    if unit != "ms":
        return compact(value) + unit
    if value < 1000:
        return compact(value) + "ms"
    return (
        f"{value / 1000:.1f}".removesuffix(".0") + "s"
        if value < 10_000
        else compact(value / 1000) + "s"
    )


def _y_labels(top: float, rows: int, unit: str) -> list[str]:
    labels = [""] * rows
    labels[0] = axis_label(top, unit)
    if rows >= 4:
        labels[rows // 2] = axis_label(top / 2, unit)
    labels[-1] = "0"
    return [label.rjust(Y_LABEL_WIDTH - 1)[: Y_LABEL_WIDTH - 1] + " " for label in labels]


def _plot_rows(grid: list[list[tuple[str, str]]], top: float, rows: int, unit: str) -> list[Text]:
    """Each grid row behind its y-axis label."""
    lines = []
    for label, row in zip(_y_labels(top, rows, unit), grid, strict=True):
        line = Text(label, style="dim")
        for char, style in row:
            line.append(char, style)
        lines.append(line)
    return lines


def _x_axis(width: int, t_end: float, step: float, used: int, columns_per_label: int = 14) -> Text:
    """Tick labels: the elapsed time at the right edge of every few columns, right-aligned,
    only under columns that hold data (`used` columns at the right)."""
    axis = [" "] * width
    column = width - 1
    while column >= width - used:
        label = clock(max(0.0, t_end - (width - 1 - column) * step))
        start = column - len(label) + 1
        if start < 0:
            break
        axis[start : column + 1] = list(label)
        column -= max(columns_per_label, len(label) + 2)
    return Text(" " * Y_LABEL_WIDTH + "".join(axis), style="dim")


def area_chart(
    layers: Sequence[Series],
    width: int,
    height: int,
    *,
    t_end: float,
    markers: Sequence[Marker] = (),
    unit: str = "",
) -> list[Text]:
    """Stacked areas (first layer at the bottom), one bucket per column, newest at the right;
    overlay layers are drawn from zero in front of the stack."""
    plot_width = max(1, width - Y_LABEL_WIDTH)
    rows = max(1, height - 1)
    points = max((len(layer.values) for layer in layers), default=0)
    step = column_seconds(points, plot_width)
    columns = [bucket(layer.values, step, plot_width) for layer in layers]
    stacked = [col for layer, col in zip(layers, columns, strict=True) if not layer.overlay]
    totals = [sum(col[i] for col in stacked if i < len(col)) for i in range(plot_width)]
    overlays = [
        max(col, default=0.0) for layer, col in zip(layers, columns, strict=True) if layer.overlay
    ]
    top = nice_ceiling(max([*totals, *overlays], default=0.0))
    grid = [[(" ", "")] * plot_width for _ in range(rows)]
    length = max((len(col) for col in columns), default=0)
    offset = plot_width - length
    for i in range(length):
        base = 0.0
        for layer, values in zip(layers, columns, strict=True):
            value = values[i] if i < len(values) else 0.0
            if layer.overlay:
                _overlay_column(grid, offset + i, value, top, rows, layer.style)
                continue
            _fill_column(grid, offset + i, base, base + value, top, rows, layer.style)
            base += value
    _draw_markers(grid, markers, t_end, step, plot_width)
    return [*_plot_rows(grid, top, rows, unit), _x_axis(plot_width, t_end, step, length)]


def _overlay_column(
    grid: list[list[tuple[str, str]]], column: int, value: float, top: float, rows: int, style: str
) -> None:
    """From zero up to `value`, in front of what is drawn; a partly filled top cell keeps the
    colour of the area behind it above the overlay's part."""
    if value <= 0 or top <= 0:
        return
    eighths = max(1, round(value / top * rows * 8))
    for eighth_row in range(rows):
        filled = min(eighths - eighth_row * 8, 8)
        if filled <= 0:
            break
        row = grid[rows - 1 - eighth_row]
        behind_char, behind_style = row[column]
        cell_style = style
        if filled < 8 and behind_char == EIGHTHS[8] and behind_style:
            cell_style = f"{style} on {behind_style.split()[-1]}"
        row[column] = (EIGHTHS[filled], cell_style)


def _fill_column(
    grid: list[list[tuple[str, str]]],
    column: int,
    low: float,
    high: float,
    top: float,
    rows: int,
    style: str,
) -> None:
    if high <= low or top <= 0:
        return
    low_eighths = round(low / top * rows * 8)
    high_eighths = round(high / top * rows * 8)
    if high_eighths <= low_eighths and high > 0:
        high_eighths = low_eighths + 1  # keep a non-zero value visible
    for eighth_row in range(rows):
        cell_low, cell_high = eighth_row * 8, eighth_row * 8 + 8
        filled = min(high_eighths, cell_high) - max(low_eighths, cell_low)
        if filled <= 0:
            continue
        if max(low_eighths, cell_low) > cell_low:
            continue  # this cell's bottom belongs to the layer below; keep that one
        grid[rows - 1 - eighth_row][column] = (EIGHTHS[filled], style)


def _draw_markers(
    grid: list[list[tuple[str, str]]],
    markers: Sequence[Marker],
    t_end: float,
    step: float,
    plot_width: int,
) -> None:
    labelled: dict[int, int] = {}
    for marker in markers:
        column = plot_width - 1 - int((t_end - marker.t) // step)
        if not 0 <= column < plot_width:
            continue
        for row in grid[1:]:
            if row[column][0] == " ":
                row[column] = ("┊", "yellow")
        # Markers one column apart would read as one number: the later one keeps the label.
        for near in (column - 1, column, column + 1):
            if near in labelled:
                grid[0][near] = ("┊", "yellow")
                del labelled[near]
        labelled[column] = 1
        grid[0][column] = (marker.label[-1:], "bold black on yellow")


def line_chart(
    series: Sequence[Series],
    width: int,
    height: int,
    *,
    t_end: float,
    markers: Sequence[Marker] = (),
    unit: str = "",
    peak: bool = False,
) -> list[Text]:
    """Braille lines: two points per column, four per row; later series draw on top."""
    plot_width = max(1, width - Y_LABEL_WIDTH)
    rows = max(1, height - 1)
    points = max((len(s.values) for s in series), default=0)
    step = column_seconds(points, plot_width) // 2  # two samples per braille cell
    sampled = [bucket(s.values, step, plot_width * 2, peak=peak) for s in series]
    top = nice_ceiling(max((max(values, default=0.0) for values in sampled), default=0.0))
    bits = [[0] * plot_width for _ in range(rows)]
    styles = [[""] * plot_width for _ in range(rows)]
    for one, values in zip(series, sampled, strict=True):
        _plot_line(bits, styles, values, top, rows, plot_width, one.style)
    grid = [
        [(chr(BRAILLE_BASE + b) if b else " ", s) for b, s in zip(bit_row, style_row, strict=True)]
        for bit_row, style_row in zip(bits, styles, strict=True)
    ]
    seconds = step * 2
    _draw_markers(grid, markers, t_end, seconds, plot_width)
    used = (max((len(v) for v in sampled), default=0) + 1) // 2
    return [*_plot_rows(grid, top, rows, unit), _x_axis(plot_width, t_end, seconds, used)]


def _plot_line(
    bits: list[list[int]],
    styles: list[list[str]],
    values: list[float],
    top: float,
    rows: int,
    plot_width: int,
    style: str,
) -> None:
    dots_high = rows * 4
    offset = plot_width * 2 - len(values)
    previous: int | None = None
    for i, value in enumerate(values):
        x = offset + i
        y = dots_high - 1 - min(dots_high - 1, round(value / top * (dots_high - 1)))
        span = range(min(previous, y), max(previous, y) + 1) if previous is not None else (y,)
        for dot_y in span:
            cell_row, cell_col = dot_y // 4, x // 2
            bits[cell_row][cell_col] |= BRAILLE_DOTS[x % 2][dot_y % 4]
            styles[cell_row][cell_col] = style
        previous = y


def histogram_rows(
    bins: Sequence[tuple[float, float, int]],
    width: int,
    marks: Sequence[tuple[str, float]],
    *,
    label: object = None,
) -> list[Text]:
    """Horizontal bars, one per log bin (ms), with percentile tags on the bins they fall in."""

    bins = merge_equal_bins(bins)
    if not bins:
        return []
    peak = max(count for _, _, count in bins) or 1
    tags: dict[int, list[str]] = {}
    for name, value in marks:
        index = next(
            (i for i, (low, high, _) in enumerate(bins) if low <= value <= high * 1.0001),
            len(bins) - 1 if value > bins[-1][1] else 0,
        )
        tags.setdefault(index, []).append(name)
    label_width = max(len(bin_label(low, high)) for low, high, _ in bins)
    count_width = max(len(f"{count:,}") for _, _, count in bins)
    tag_width = max((len(" ".join(t)) for t in tags.values()), default=0) + 2
    bar_width = max(4, width - label_width - count_width - tag_width - 3)
    rows = []
    for index, (low, high, count) in enumerate(bins):
        row = Text(bin_label(low, high).rjust(label_width), style="dim")
        row.append(" ")
        cells = count / peak * bar_width
        full = int(cells)
        bar = "█" * full + (EIGHTHS_H[int((cells - full) * 8)] if full < bar_width else "")
        style = "magenta" if index in tags else "blue"
        row.append(bar.ljust(bar_width), style=style)
        row.append(f" {count:>{count_width},}", style="bold" if count else "dim")
        if index in tags:
            row.append(" ◂" + " ".join(tags[index]), style="bold yellow")
        rows.append(row)
    return rows


EIGHTHS_H = " ▏▎▍▌▋▊▉"
