"""A malformed URL wherever one is given (positional, --url, --proxy, a --targets line, a runbook
runner, and where a file is expected instead): one `loadscope: ...` line naming it, exit 2,
nothing sent. Every case is refused before any load, so each runs in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cli_support import Result, loadscope_in_process

MALFORMED = [
    "http://[::1",
    "http://host:99999/",
    "http://host:0/",
    "http://:80/",
    "ftp://x/",
    "http://exa mple/",
    "http://[::1]:x/",
    "http://[::1]x/",
    "http://host:+8080/",
    "http://host: 8080/",
    "http://host:٨٠٨٠/",
    "",
]
GOOD = "http://127.0.0.1:9/"  # never contacted: every case fails before any load


def _targets_file(url: str, tmp_path: Path) -> tuple[str, ...]:
    listed = tmp_path / "targets.txt"
    listed.write_text(f"GET {url}\n")
    return ("run", "--targets", str(listed), "-d", "1s")


def _runbook_runner(url: str, tmp_path: Path) -> tuple[str, ...]:
    book = tmp_path / "book.yml"
    book.write_text(f"runners:\n  req: '{url}'\nsteps:\n  - req:\n      /:\n        get: {{}}\n")
    return ("run", str(book), "-d", "1s")


SPOTS = {
    "run": lambda url, _: ("run", url, "-d", "1s"),
    "console": lambda url, _: ("console", url, "-d", "1s"),
    "console --url": lambda url, _: ("console", "--url", url, "-d", "1s"),
    "loadt": lambda url, _: ("loadt", url, "--duration", "1s"),
    "compare": lambda url, _: ("compare", url, url),
    "--proxy": lambda url, _: ("run", GOOD, "--proxy", url, "-d", "1s"),
    "--targets": _targets_file,
    "runbook runner": _runbook_runner,
}


# Not malformed there: an empty line in a targets file is no target at all, and (as in runn) a
# runner that is not http(s):// is another kind of runner (a database).
NOT_APPLICABLE = {("--targets", ""), ("runbook runner", "ftp://x/")}
CASES = [
    pytest.param(spot, url, id=f"{spot}-{url!r}")
    for spot in SPOTS
    for url in MALFORMED
    if (spot, url) not in NOT_APPLICABLE
]


@pytest.mark.parametrize(("spot", "url"), CASES)
def test_a_malformed_url_is_one_line_naming_it_and_exit_2(
    spot: str, url: str, tmp_path: Path
) -> None:
    result = loadscope_in_process(*SPOTS[spot](url, tmp_path))
    line = refused(result)
    if url:
        assert url in line, line
    assert "internal error" not in line and "unreachable" not in line, line


def refused(result: Result) -> str:
    assert result.code == 2, result
    assert result.out == "", result
    line = result.error_line()
    assert line.startswith("loadscope") or ".yml:" in line, line  # a runbook's located error
    return line


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (("run", "http://[::1", "-d", "1s"), "invalid URL 'http://[::1': "),
        (("run", "http://exa mple/"), "the host 'exa mple' cannot have ' '"),
        (("run", "http://host:0/"), "port 0 is not 1-65535"),
        (("run", GOOD, "--proxy", "http://exa mple/"), "the host 'exa mple' cannot have ' '"),
        (("run", GOOD, "--proxy", "http://h:0"), "port 0 is not 1-65535"),
        (("run", GOOD, "--proxy", "h:+8080"), "--proxy: 'h:+8080' is not a proxy URL: the port"),
        (("run", GOOD, "--proxy", "http://h: 8080"), "the port ' 8080' is not a number"),
        (("run", GOOD, "--proxy", "http://[::1]:８０"), "the port '８０' is not a number"),
        (("loadt", "http://127.0.0.1:9/"), "a URL, not a runbook file"),
        (("loadt", "ftp://x/"), "a URL, not a runbook file"),
        (("run", ""), "an empty argument"),
        (("loadt", ""), "an empty argument"),
        (("compare", "", ""), "an empty file name"),
    ],
)
def test_what_is_wrong_with_the_url_is_said(arguments: tuple[str, ...], fragment: str) -> None:
    line = refused(loadscope_in_process(*arguments))
    assert fragment in line, line
