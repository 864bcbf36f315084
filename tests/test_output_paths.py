"""Output files are checked before anything is sent, by every command: a path that cannot be
written is exit 2 with one line, and the target sees no connection. A write that still fails
at the end loses nothing else: the report goes to stdout, the message names the file, exit 2."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .cli_support import EXAMPLES, loadscope, start, wait_for


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that counts the connections made to it (none, we expect)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.setblocking(False)
    yield server
    server.close()


def accepted(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def bad_paths(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """(path, a fragment of the error) for each way a path can be unwritable."""
    (tmp_path / "a-dir").mkdir()
    return {
        "directory": (str(tmp_path / "a-dir"), "is a directory"),
        "proc": ("/proc/version", "cannot write /proc/version"),
        "missing parent": (str(tmp_path / "no" / "such" / "r.json"), "does not exist"),
        "device": ("/dev/null", "not a regular file"),
    }


def command(name: str, url: str, flag: str, path: str) -> list[str]:
    if name == "loadt":
        book = str(EXAMPLES / "demo.yml")
        return ["loadt", book, "--duration", "2sec", "--warm-up", "0sec", flag, path]
    return [name, url, "-d", "2s", flag, path]


CASES = [
    *[("run", "--out", kind) for kind in ("directory", "proc", "missing parent", "device")],
    ("run", "--summary-json", "proc"),
    ("run", "--csv", "directory"),
    ("run", "--csv", "proc"),
    ("loadt", "--out", "directory"),
    ("loadt", "--csv", "missing parent"),
    ("console", "--out", "directory"),
    ("console", "--summary-json", "proc"),
    ("console", "--csv", "device"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "flag", "kind"), CASES)
def test_an_unwritable_output_is_exit_2_before_any_load(
    listener: socket.socket, tmp_path: Path, name: str, flag: str, kind: str
) -> None:
    path, fragment = bad_paths(tmp_path)[kind]
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    args = command(name, url, flag, path)
    result = loadscope(*args, env={"TARGET": url, "LOADSCOPE_FORCE_CONSOLE": "1"})
    assert result.code == 2
    assert fragment in result.error_line()
    assert result.out == ""
    assert accepted(listener) == 0  # nothing sent


@pytest.mark.slow
def test_demo_checks_its_output_before_starting_the_target(tmp_path: Path) -> None:
    result = loadscope("demo", "--headless", "-d", "1s", "--out", str(tmp_path))
    assert result.code == 2
    assert "is a directory" in result.error_line()  # and no "built-in target on" line


@pytest.mark.slow
def test_the_same_file_twice_is_refused(listener: socket.socket, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    same = str(tmp_path / "r.json")
    result = loadscope("run", url, "-d", "1s", "--out", same, "--csv", same)
    assert result.code == 2
    assert "name the same file" in result.error_line()
    assert accepted(listener) == 0


@pytest.mark.slow
def test_a_write_that_fails_at_the_end_keeps_the_report_on_stdout(
    target: TargetProcess, tmp_path: Path
) -> None:
    directory = tmp_path / "gone"
    directory.mkdir()
    out = directory / "report.json"
    baseline = target.open_connections()
    process = start("run", target.http_url, "-c", "2", "-d", "3s", "--format", "json",
                    "--out", str(out))  # fmt: skip
    wait_for(lambda: target.open_connections() >= baseline + 2 or process.poll() is not None)
    shutil.rmtree(directory)  # checked at start; gone by the end
    started = time.monotonic()
    result = process.finish()
    assert result.code == 2, result.err
    assert result.json()["requests_total"] > 0  # the whole report, on stdout
    assert f"cannot write {out}" in result.err
    assert time.monotonic() - started < 60
