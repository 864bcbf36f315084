from __future__ import annotations

import pytest

from loadscope.engine.durations import DurationError, format_seconds, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10),
        ("10sec", 10),
        ("1m30s", 90),
        ("500ms", 0.5),
        ("1min", 60),
        ("2h", 7200),
        ("1.5s", 1.5),
        ("3", 3),
        ("1m 30s", 90),
        (5, 5),
    ],
)
def test_parses_what_runn_and_k6_users_write(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "x", "10x", "-1", "s10", "10s garbage", True])
def test_rejects_with_a_hint(text: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)  # type: ignore[arg-type]


def test_formats_compactly() -> None:
    assert format_seconds(0.5) == "0.5s"
    assert format_seconds(90) == "1m30s"
    assert format_seconds(7500) == "2h5m"
