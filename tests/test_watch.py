"""`loadscope watch HOST:PORT --headless`: new connections a second, from the kernel alone, while
a session churns against the built-in target; its accept counter is the ground truth."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from loadscope.engine import ReuseMode, Session, SessionConfig, SocketCounts, UrlScenario
from loadscope.engine.diagnostics.kernel import KernelSample, SocketWatcher, Source
from loadscope.engine.target import TargetProcess
from loadscope.tui.cli import main

from .helpers import eventually

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="the kernel view needs Linux"
)

COLUMNS = ["t", "new/s", "ESTABLISHED", "TIME_WAIT", "CLOSE_WAIT", "SYN_SENT", "other", "ports"]
SUMMARY = re.compile(r": ([\d,]+) new connections in ([\d.]+)s .*TIME_WAIT peak ([\d,]+)$")


def churning(target: TargetProcess, rate: float = 300) -> Session:
    """New connections at a steady rate: each iteration opens one and closes it."""
    config = SessionConfig(rate=rate, max_vus=8, reuse_mode=ReuseMode.PER_ITERATION)
    return Session(config, UrlScenario(target.http_url))


def port_of(target: TargetProcess) -> int:
    return int(target.http_url.rsplit(":", 1)[1])


@pytest.mark.slow
async def test_watch_counts_new_connections_like_the_accept_counter(
    target: TargetProcess,
) -> None:
    session = churning(target)
    await session.start()
    try:
        watch = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "loadscope",
            "watch",
            f"127.0.0.1:{port_of(target)}",
            "--headless",
            "-d",
            "3",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert watch.stdout is not None
        header = (await watch.stdout.readline()).decode()
        accepted = target.accepted()  # the header comes right after the first reading
        columns = (await watch.stdout.readline()).decode().split()
        lines = [(await watch.stdout.readline()).decode().split() for _ in range(3)]
        opened = target.accepted() - accepted  # and each line right after its reading
        summary = (await watch.stdout.readline()).decode().strip()
        rest, errors = await watch.communicate()
    finally:
        await session.shutdown()
    assert watch.returncode == 0, errors.decode()
    assert header.startswith(f"watching 127.0.0.1:{port_of(target)}, both ends")
    assert columns == COLUMNS
    assert [line[0] for line in lines] == ["1s", "2s", "3s"] and rest == b""
    match = SUMMARY.search(summary)
    assert match is not None, summary
    total, peak = int(match[1].replace(",", "")), int(match[3].replace(",", ""))
    assert opened > 100  # 300/s for 3 s when the machine keeps up; a busy one opens fewer
    assert abs(total - opened) <= 0.05 * opened + 5
    per_second = [float(line[1].replace(",", "")) for line in lines]  # 7,724: one format
    assert sum(per_second) == pytest.approx(total, rel=0.05)
    assert peak >= max(int(line[3]) for line in lines)  # the first reading counts too
    used, size = lines[-1][7].split("/")
    assert int(size) > 0 and int(used) > 0


@pytest.mark.slow
@pytest.mark.parametrize("source", [Source.NETLINK, Source.PROC])
async def test_both_sources_tell_new_connections_apart(
    target: TargetProcess, source: Source
) -> None:
    watcher = SocketWatcher.for_address(f"127.0.0.1:{port_of(target)}", source=source)
    assert await asyncio.to_thread(watcher.poll) is not None  # the baseline
    accepted = target.accepted()
    session = churning(target, rate=200)
    await session.start()
    try:
        for _ in range(3):  # a reading after each 60 new connections
            seen = target.accepted()
            await eventually(lambda seen=seen: target.accepted() >= seen + 60, what="churn")
            sample = await asyncio.to_thread(watcher.poll)
            assert sample is not None and sample.source == source.value
    finally:
        await session.shutdown()
    target.wait_until(lambda t: t.open_connections() == 0)
    last = await asyncio.to_thread(watcher.poll)
    opened = target.accepted() - accepted
    assert last is not None and opened > 150
    assert abs(last.total_new - opened) <= 0.05 * opened + 5


def test_watch_needs_headless_and_an_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "127.0.0.1:8080"]) == 2
    assert "--headless" in capsys.readouterr().err
    assert main(["watch", "8080", "--headless"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
    assert main(["watch", "127.0.0.1:8080", "--headless", "-d", "soon"]) == 2


class _ScriptedView:
    """Readings of one 4-tuple: each a connection's socket (its cookie) or none."""

    def __init__(self, cookies: list[bytes]) -> None:
        self.cookies = cookies
        self.labels = ["127.0.0.1:8080"]

    def sample(self) -> KernelSample:
        cookie = self.cookies.pop(0)
        key = (b"client", b"server", False)
        connections = {key: (cookie, 0.0)} if cookie else {}
        total = SocketCounts(time_wait=len(connections))
        return KernelSample((), total, 0, (0, 0), 0, 0, "netlink", 0.0, 0.0, connections)


def test_reads_between_polls_count_a_4_tuple_taken_over_twice_in_one_second() -> None:
    """Three connections on one 4-tuple within a second: the poll alone would see the first
    and the last socket; the looks in between see each."""
    watcher = SocketWatcher([])
    watcher.view = _ScriptedView([b"", b"A", b"B", b"C"])  # type: ignore[assignment]
    first = watcher.poll()
    assert first is not None and first.new_connections is None
    watcher.look()
    watcher.look()
    second = watcher.poll()
    assert second is not None and second.new_connections == 3 == second.total_new
