"""Number formatting shared by the console and the text report (plain strings: no Rich, so the
text report imports none)."""

from __future__ import annotations

from collections.abc import Sequence

from ..engine.durations import go_duration


def number(value: float) -> str:
    """12,345 / 123.4 / 1.23 — as many digits as a reader needs."""
    if value >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def compact(value: float) -> str:
    """Short axis labels: 950, 1.2k, 45k, 1.3M."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value >= 10 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.1f}"


NO_VALUE = "–"  # nothing was measured (no response): never a made-up 0.00ms


# Below a second, each range of milliseconds and its decimals: (decimals, lowest, next range).
_MS_RANGES = ((3, 0.001, 0.1), (2, 0.1, 10.0), (1, 10.0, 100.0), (0, 100.0, 1000.0))


def ms(value: float | None) -> str:
    """`1.23s`, `123ms`, `12.3ms`, `1.23ms`, `0.040ms`: rounded first, then the range picked, so
    999.7 reads `1.00s` (not `1,000ms`) and 0.0004 reads `<0.001ms` (never a made-up 0.000ms)."""
    if value is None:
        return NO_VALUE
    if value <= 0:
        return "0.00ms"
    for decimals, lowest, above in _MS_RANGES:
        shown = round(value, decimals)
        if shown < above:
            return f"{value:.{decimals}f}ms" if shown >= lowest else f"<{lowest}ms"
    return f"{value / 1000:,.2f}s"


def elapsed(seconds: float, gap: str = "") -> str:
    """How long a run took: `12.3s`, or below a second in milliseconds (`8.20ms`), so a run of
    `--iterations 1` never reads as 0.0s; `gap=" "` for `8.20 ms` (the HTML's style)."""
    if seconds <= 0:
        return f"0{gap}s"
    below_a_second = ms(seconds * 1000)
    if below_a_second.endswith("ms"):  # not rounded up to a second
        return below_a_second.removesuffix("ms") + f"{gap}ms"
    return f"{seconds:,.1f}{gap}s"


def elapsed_duration(seconds: float) -> str:
    """runn's Duration line (Go's form): tenths of a second, or below a second the ms (or µs)
    it took, never `0s` for a run that was quick."""
    if seconds >= 1:
        return go_duration(round(seconds, 1))
    return go_duration(round(seconds, 3) if seconds >= 0.001 else round(seconds, 6))


def percent(share: float) -> str:
    if share == 0 or share >= 0.001:
        return f"{share * 100:.1f}%"
    return f"{share * 100:.3f}%"


def clock(seconds: float) -> str:
    """Elapsed time as m:ss, or h:mm:ss past an hour."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def counted(n: int, noun: str) -> str:
    """`1 VU`, `2 VUs`, `1,000 connections`: a count with its noun, singular for one."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def bin_label(low: float, high: float) -> str:
    """`1.20ms–1.45ms`, or one value when both ends read the same."""
    return ms(low) if ms(low) == ms(high) else f"{ms(low)}–{ms(high)}"


def merge_equal_bins(
    bins: Sequence[tuple[float, float, int]],
) -> list[tuple[float, float, int]]:
    """Bins that would read the same (every latency equal: 11 rows of `1.50s–1.50s`) become
    one row with their counts added."""
    merged: list[tuple[float, float, int]] = []
    for low, high, count in bins:
        if merged and bin_label(*merged[-1][:2]) == bin_label(low, high):
            first, last, total = merged[-1]
            merged[-1] = (first, max(last, high), total + count)
        else:
            merged.append((low, high, count))
    return merged
