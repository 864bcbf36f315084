"""Times and durations as runn's expressions read and print them (Go's formats)."""

from __future__ import annotations

import datetime as dt

_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
    "%d %b %Y %H:%M:%S", "%b %d %Y", "%b %d, %Y", "%m/%d/%Y", "%Y%m%d",
)  # fmt: skip


def parse_time(text: str) -> dt.datetime:
    """A time written as people write them: RFC 3339, RFC 1123, `2006-01-02 15:04:05` ..."""
    value = text.strip()
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        pass
    for layout in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(value, layout)
        except ValueError:
            continue
    if value.isdigit():
        number = int(value)
        for scale in (1, 1_000, 1_000_000, 1_000_000_000):  # s, ms, µs, ns since 1970
            if number / scale < 1e11:
                return dt.datetime.fromtimestamp(number / scale, dt.UTC)
    raise ValueError("not a time this parser knows")


def go_duration(delta: dt.timedelta) -> str:
    """A timedelta as Go prints a time.Duration: `1h30m0s`, `1.5s`, `0s`."""
    micros = round(delta.total_seconds() * 1e6)
    if micros == 0:
        return "0s"
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros < 1_000_000:
        return f"{sign}{micros / 1000:g}ms" if micros >= 1000 else f"{sign}{micros}µs"
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds = f"{rest / 1e6:.6f}".rstrip("0").rstrip(".") + "s"
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + seconds
    return sign + text


def go_time(moment: dt.datetime) -> str:
    """A time as Go's time.Time.String() prints it."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + " " + (moment.strftime("%z") or "+0000") + " " + (moment.strftime("%Z") or "UTC")


__all__ = ["go_duration", "go_time", "parse_time"]
