"""Test helpers: ground truth about sockets from /proc, and small session runners."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from loadscope.engine import Scenario, Session, SessionConfig

if TYPE_CHECKING:
    from textual.pilot import Pilot
from loadscope.engine.target import TargetProcess

TCP_STATES = {"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "02": "SYN_SENT"}


def own_socket_inodes() -> set[str]:
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def own_tcp_states(remote_port: int) -> dict[str, int]:
    """States of this process's TCP sockets whose remote port is `remote_port`."""
    mine = own_socket_inodes()
    states: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote, state, inode = fields[2], fields[3], fields[9]
            if inode in mine and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                name = TCP_STATES.get(state, state)
                states[name] = states.get(name, 0) + 1
    return states


async def run_session(config: SessionConfig, scenario: Scenario) -> Session:
    session = Session(config, scenario)
    await asyncio.wait_for(session.run(), (config.duration or 0) + config.warm_up + 30)
    return session


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Poll `condition` on the wall clock; fail, naming `what`, once `timeout` has passed.
    A deadline, never a fixed sleep: a loaded machine only makes the wait longer."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.02)


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """`eventually` in a Textual pilot: wait on the wall clock, as a pause can take far longer
    than asked on a busy machine."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def eventually(
    condition: Callable[[], object], timeout: float = 30.0, what: str = ""
) -> None:
    """`wait_until` for async tests: the event loop runs while we wait."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        await asyncio.sleep(0.02)


def accepted_after_a_probe(target: TargetProcess) -> int:
    """The target's accept count once it has caught up with every connection made before now:
    a one-worker target accepts in order, so once our own probe connection is counted, so is
    any earlier one. Minus the probe itself."""
    before = target.accepted()
    with socket.create_connection(target_address(target), timeout=10):
        assert target.wait_until(lambda t: t.accepted() > before, timeout=30), "probe not seen"
    return target.accepted() - 1


def target_address(target: TargetProcess) -> tuple[str, int]:
    host_port = target.http_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    return host, int(port)


def signal_pending(pid: int, sig: int) -> bool:
    """`sig`, sent to process `pid`, is not yet delivered (its bit in /proc's ShdPnd mask).
    Two signals of one kind sent before the first is delivered merge into one; wait until
    this is false between them to have the process see both."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("ShdPnd:"))
    return bool(int(mask, 16) & (1 << (sig - 1)))
