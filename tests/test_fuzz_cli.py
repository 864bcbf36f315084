"""Property: whatever flags and runbooks a user gives, `main()` ends with a contract exit code
(0, 1, 2, 130), one clear message for bad input, never a traceback or an "internal error".

Targets are a loopback port with nothing listening; every run is bounded (a short -d, no
warm-up, no phases), so a generated case that happens to be valid ends in a fraction of a
second."""

from __future__ import annotations

import contextlib
import io
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadscope.tui.cli import main

CONTRACT_CODES = {0, 1, 2, 130}


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


DEAD_URL = f"http://127.0.0.1:{dead_port()}"

JUNK = st.one_of(
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "-1",
            "0",
            "1e400",
            "99999999999999999999h",
            "☃",
            "",
            " ",
            "1" * 500,
            "10MB",
            "1s:5",
            "p99 < 5",
            "X-A: ☃",
            "@/dev/zero",
            "@/",
            "shared:1s",
            "\x00",
            "a:b",
            "json:///dev/zero",
        ]
    ),
    st.text(max_size=12),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
RUN_FLAGS = [
    "-c",
    "-d",
    "--stages",
    "--rate",
    "--max-vus",
    "--retire-at",
    "--grace",
    "--h2-connections",
    "--reuse",
    "--max-idle",
    "--timeout",
    "--connect-timeout",
    "--max-body",
    "-H",
    "-X",
    "--body",
    "--var",
    "--threshold",
    "--format",
    "--url",
]
LOADT_FLAGS = [
    "--load-concurrent",
    "--max-rps",
    "--connect-timeout",
    "--max-body",
    "--var",
    "--threshold",
    "--format",
]
SWITCHES = ["--http1", "--http2", "--h2c", "-k", "-q"]

BOOK_KEYS = [
    "desc",
    "runners",
    "vars",
    "steps",
    "if",
    "loop",
    "include",
    "api",
    "test",
    "bind",
    "dump",
    "headers",
    "body",
    "get",
    "post",
    "/",
    "/x",
    "filename",
    "secrets",
    "x-loadscope",
    "interval",
    "count",
    "until",
    "application/json",
    "Authorization",
    "force",
    "skipTest",
    "phases",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=10),
    JUNK,
    st.sampled_from(["{{ vars.a }}", "{{", "current.res.status == 200", DEAD_URL, "/dev/zero"]),
)
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(BOOK_KEYS), st.text(max_size=6)), children, max_size=4
        ),
    ),
    max_leaves=12,
)
BOOKS = st.one_of(
    TREES,
    st.fixed_dictionaries(
        {"runners": st.just({"api": DEAD_URL}), "steps": st.lists(TREES, max_size=3)},
        optional={"vars": TREES, "secrets": TREES, "x-loadscope": TREES, "loop": TREES},
    ),
)


def run_main(arguments: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(arguments)
    return code, err.getvalue()


def write_book(directory: Path, tree: Any, number: int) -> str:
    book = directory / f"book{number}.yml"
    try:
        book.write_text(yaml.safe_dump(tree, allow_unicode=True))
    except yaml.YAMLError:  # a tree YAML cannot hold: write it as text
        book.write_text(str(tree))
    return str(book)


def flags(names: list[str]) -> st.SearchStrategy[list[str]]:
    pairs = st.lists(st.tuples(st.sampled_from(names), JUNK), max_size=4)
    switches = st.lists(st.sampled_from(SWITCHES), max_size=2, unique=True)
    return st.builds(lambda p, s: [part for pair in p for part in pair] + s, pairs, switches)


def assert_contract(code: int, err: str) -> None:
    assert code in CONTRACT_CODES, err
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    if code == 2:
        assert err.strip(), "exit 2 needs a message"


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.slow
@SETTINGS
@given(options=flags(RUN_FLAGS), target=st.sampled_from(["url", "book"]), tree=BOOKS)
def test_run_never_crashes(tmp_path: Path, options: list[str], target: str, tree: Any) -> None:
    where = DEAD_URL + "/" if target == "url" else write_book(tmp_path, tree, 0)
    bounded = ["-d", "0.2s", "--warm-up", "0s", "--grace", "0s"]  # last: they win
    assert_contract(*run_main(["run", where, *options, *bounded]))


@pytest.mark.slow
@SETTINGS
@given(options=flags(LOADT_FLAGS), trees=st.lists(BOOKS, min_size=1, max_size=2))
def test_loadt_never_crashes(tmp_path: Path, options: list[str], trees: list[Any]) -> None:
    books = [write_book(tmp_path, tree, number) for number, tree in enumerate(trees)]
    bounded = ["--duration", "0.2sec", "--warm-up", "0sec"]
    assert_contract(*run_main(["loadt", *books, *options, *bounded]))
