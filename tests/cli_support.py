"""Running the real `loadscope` command line in a subprocess, as a user would."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .reports import validated

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
COMMAND = [sys.executable, "-m", "loadscope.tui.cli"]
TIMEOUT = 60.0  # per command: generous on a busy 2-core machine, and never hangs the suite


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        """stdout must be one JSON document and nothing else."""
        return validated(json.loads(self.out))

    def error_line(self) -> str:
        """A failure is one line on stderr, never a traceback."""
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        return lines[0]


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}
    env.pop("LOADSCOPE_DEBUG", None)
    return env


def loadscope(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = TIMEOUT,
) -> Result:
    """Run `loadscope ARGS...` to its end (stdin closed, stdout and stderr captured)."""
    done = subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        env=environment(env),
        cwd=cwd or REPO,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Result(done.returncode, done.stdout, done.stderr)


def loadscope_in_process(*args: str) -> Result:
    """`loadscope ARGS...` in this process, from the repository's root: for inputs refused before
    any load, where a fresh interpreter per case would only add its start-up. A few cases still
    go through `loadscope()` to keep the real process's exit code in view."""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _main_in_process(list(args))
    finally:
        os.chdir(cwd)
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return Result(code, out.getvalue(), err.getvalue())


def _main_in_process(arguments: list[str]) -> int:
    from loadscope.tui.cli import main

    try:
        return main(arguments)
    except SystemExit as exc:  # the contract is main's return value; an exit escaping it is a bug
        raise AssertionError(f"main() raised SystemExit({exc.code}) for {arguments}") from exc


def start(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Popen:
    """Start `loadscope ARGS...` in the background; `finish()` collects it."""
    return Popen(
        [*COMMAND, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=environment(env),
        cwd=cwd or REPO,
    )


class Popen(subprocess.Popen[str]):
    def finish(self, timeout: float = TIMEOUT) -> Result:
        try:
            out, err = self.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.communicate()
            raise AssertionError(f"loadscope did not exit in {timeout}s: {err}") from None
        assert "Traceback" not in err, err
        return Result(self.returncode, out, err)

    def interrupt(self, sig: signal.Signals = signal.SIGINT) -> None:
        self.send_signal(sig)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)


def established_to(pid: int, port: int) -> int:
    """ESTABLISHED TCP sockets that process `pid` holds to `port` (0 once it has exited)."""
    try:
        inodes = {
            os.readlink(fd)[8:-1]
            for fd in Path(f"/proc/{pid}/fd").iterdir()
            if os.readlink(fd).startswith("socket:[")
        }
    except (FileNotFoundError, ProcessLookupError):
        return 0
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote, state, inode = fields[2], fields[3], fields[9]
            if state == "01" and inode in inodes and int(remote.rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])
