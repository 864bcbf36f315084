"""The kernel view: /proc parsing on captured text, then real sockets on loopback checked against
`ss` and the built-in target's accept counter."""

from __future__ import annotations

import asyncio
import os
import random
import resource
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadscope.engine import (
    KernelExtension,
    ReuseMode,
    Session,
    SessionConfig,
    SocketCounts,
    UrlScenario,
    attach_diagnostics,
)
from loadscope.engine.diagnostics.kernel import (
    Endpoint,
    KernelSample,
    KernelView,
    Source,
    endpoints_for,
    fd_limit,
    open_fds,
    parse_address,
    read_port_range,
)
from loadscope.engine.target import TargetOptions, TargetProcess

from .helpers import eventually, run_session
from .reports import report_of

HAVE_SS = shutil.which("ss") is not None
HAVE_PROC = Path("/proc/net/tcp").exists()
needs_linux = pytest.mark.skipif(not (HAVE_SS and HAVE_PROC), reason="needs Linux /proc and ss")

V4 = "0100007F"  # 127.0.0.1 as /proc spells it: a 32-bit word in host order, in hex
V4_2 = "0200007F"  # 127.0.0.2
MAPPED = "0000000000000000FFFF0000" + V4  # ::ffff:127.0.0.1
V6 = "00000000000000000000000001000000"  # ::1
ANY6 = "0" * 32


def row(
    local: str, remote: str, state: str, timer: str = "00:00000000", inode: int = 4324403
) -> str:
    """A line as tcp4_seq_show / tcp6_seq_show print it (`%4d: %08X:%04X %08X:%04X %02X ...`)."""
    queues, tail = "00000000:00000000", "1 0000000039965622 20 0 0 10 -1"
    return f"   0: {local} {remote} {state} {queues} {timer} 00000000 {0:5d} {0:8d} {inode} {tail}"


def time_wait(local: str, remote: str, left: str = "00001766") -> str:
    return row(local, remote, "06", f"03:{left}", inode=0)


HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout"
)
# Around 127.0.0.1:8080 (port 1F90) and [::1]:8080.
TCP = [
    HEADER,
    row(f"{V4}:1F90", "00000000:0000", "0A"),  # the listener
    row(f"{V4}:9C40", f"{V4}:1F90", "01"),  # a client end, and its server end
    row(f"{V4}:1F90", f"{V4}:9C40", "01"),
    time_wait(f"{V4}:9C41", f"{V4}:1F90"),  # client-side TIME_WAIT
    time_wait(f"{V4}:1F90", f"{V4}:9C42"),  # server-side TIME_WAIT
    row(f"{V4}:1F90", f"{V4}:9C43", "08"),  # server-side CLOSE_WAIT
    row(f"{V4}:9C44", f"{V4}:1F90", "02", "01:00000064"),  # SYN_SENT
    row(f"{V4}:9C45", f"{V4}:1F90", "05", "03:00000064"),  # FIN_WAIT2
    time_wait(f"{V4}:03E8", f"{V4}:1F90"),  # a client bound to port 1000
    row(f"{V4}:270F", f"{V4}:C350", "01"),  # 127.0.0.1:9999 <-> :50000, no target's
    row(f"{V4_2}:9C46", f"{V4}:1F90", "01"),  # a client from 127.0.0.2
]
TCP6 = [
    HEADER,
    row(f"{ANY6}:1F90", f"{ANY6}:0000", "0A"),
    row(f"{MAPPED}:9C50", f"{MAPPED}:1F90", "01"),  # a dual-stack socket to 127.0.0.1
    row(f"{V6}:9C60", f"{V6}:1F90", "01"),
    time_wait(f"{V6}:1F90", f"{V6}:9C60"),
]


@pytest.fixture
def fake_proc(tmp_path: Path) -> Path:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text("\n".join(TCP) + "\n")
    (tmp_path / "net" / "tcp6").write_text("\n".join(TCP6) + "\n")
    (tmp_path / "sys" / "net" / "ipv4").mkdir(parents=True)
    (tmp_path / "sys" / "net" / "ipv4" / "ip_local_port_range").write_text("32768\t60999\n")
    (tmp_path / "self" / "fd").mkdir(parents=True)
    for fd in range(8):  # 7, and the listing's own
        (tmp_path / "self" / "fd" / str(fd)).touch()
    return tmp_path


# -- parsing captured text -----------------------------------------------------------------------
def test_counts_both_ends_by_state_from_proc_text(fake_proc: Path) -> None:
    view = KernelView([Endpoint("127.0.0.1", 8080)], source=Source.PROC, proc_root=str(fake_proc))
    sample = view.sample()
    assert sample is not None and sample.source == "proc"
    # Client ends (remote = target): 2 ESTABLISHED (one from 127.0.0.2), 2 TIME_WAIT (one on
    # port 1000), 1 SYN_SENT, 1 FIN_WAIT2, and 1 ESTABLISHED mapped in tcp6; server ends (local =
    # target): 1 ESTABLISHED, 1 TIME_WAIT, 1 CLOSE_WAIT. The listeners and port 9999 don't count.
    assert sample.total == SocketCounts(
        established=4, time_wait=3, close_wait=1, syn_sent=1, other=1
    )
    assert sample.targets == (("127.0.0.1:8080", sample.total),)
    # Client sockets on a port of 32768-60999: 9C40, 9C41, 9C44, 9C45, 9C46 and the mapped 9C50.
    assert sample.ephemeral_in_use == 6
    assert sample.ephemeral_range == (32768, 60999) and sample.ephemeral_size == 28232
    assert sample.fds_open == 7


def test_own_ports_keep_only_our_connections_both_ends(fake_proc: Path) -> None:
    own = bytearray(65536)
    own[0x9C40] = own[0x9C42] = 1  # an ESTABLISHED pair, and a TIME_WAIT the server holds
    view = KernelView([Endpoint("127.0.0.1", 8080)], source=Source.PROC, proc_root=str(fake_proc))
    sample = view.sample(bytes(own))
    assert sample is not None
    assert sample.total == SocketCounts(established=2, time_wait=1)
    assert sample.ephemeral_in_use == 6  # the ports are shared: every client holds them


def test_targets_are_counted_apart_and_any_host_matches_the_port(fake_proc: Path) -> None:
    endpoints = [Endpoint("::1", 8080), Endpoint("127.0.0.2", 8080), Endpoint(None, 9999)]
    sample = KernelView(endpoints, source="proc", proc_root=str(fake_proc)).sample()
    assert sample is not None
    counts = dict(sample.targets)
    assert counts["[::1]:8080"] == SocketCounts(established=1, time_wait=1)
    assert counts["127.0.0.2:8080"] == SocketCounts()  # its socket is a client *from* .2
    assert counts["*:9999"] == SocketCounts(established=1)
    assert sample.total == SocketCounts(established=2, time_wait=1)


def test_one_label_sums_a_names_addresses(fake_proc: Path) -> None:
    endpoints = [
        Endpoint("127.0.0.1", 8080, "localhost:8080"),
        Endpoint("::1", 8080, "localhost:8080"),
    ]
    sample = KernelView(endpoints, source="proc", proc_root=str(fake_proc)).sample()
    assert sample is not None
    assert [label for label, _ in sample.targets] == ["localhost:8080"]
    assert sample.total.established == 5 and sample.total.time_wait == 4


def test_no_proc_means_no_sample_not_a_crash(tmp_path: Path) -> None:
    view = KernelView([Endpoint("127.0.0.1", 8080)], source="proc", proc_root=str(tmp_path))
    assert view.sample() is None and view.source is None
    assert view.port_range == (0, 0)
    assert open_fds(str(tmp_path)) == 0


@pytest.mark.slow
async def test_a_session_without_a_kernel_view_has_none(target: TargetProcess) -> None:
    session = Session(SessionConfig(concurrency=2, duration=1.2), UrlScenario(target.http_url))
    session.extensions.append(KernelExtension(source="proc", proc_root="/nonexistent"))
    await asyncio.wait_for(session.run(), 30)
    snapshot = session.snapshot()
    assert snapshot.requests_total > 0 and snapshot.kernel is None
    assert all(p.time_wait is None and p.established is None for p in snapshot.timeline)
    report = report_of(snapshot)
    assert "time_wait_peak" not in report and "kernel" not in report


def test_addresses_parse() -> None:
    assert parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_address("[::1]:443") == ("::1", 443)
    assert parse_address(":5432") == (None, 5432)
    assert parse_address("*:5432") == (None, 5432)
    assert parse_address("localhost:80") == ("localhost", 80)
    for bad in ("8080", "host:http", "127.0.0.1:0", "127.0.0.1:70000"):
        with pytest.raises(ValueError):
            parse_address(bad)
    assert {e.host for e in endpoints_for("localhost", 80)} <= {"127.0.0.1", "::1"}
    assert endpoints_for(None, 80) == [Endpoint(None, 80)]
    assert Endpoint("::1", 80).label == "[::1]:80"


def test_open_descriptors_are_counted_without_listing_them_where_the_kernel_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if os.stat("/proc/self/fd").st_size == 0:
        pytest.skip("this kernel (before 6.2) gives no count as the directory's size")
    listed = len(os.listdir("/proc/self/fd")) - 1

    def no_listing(path: str) -> list[str]:
        raise AssertionError(f"listed {path}")

    monkeypatch.setattr("loadscope.engine.diagnostics.kernel.os.listdir", no_listing)
    assert open_fds() == listed


def test_file_descriptors_against_the_limit() -> None:
    before = open_fds()
    assert before == len(os.listdir("/proc/self/fd")) - 1  # the listing's own descriptor
    with open(__file__):
        assert open_fds() == before + 1
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert fd_limit() == (0 if soft == resource.RLIM_INFINITY else soft)


# -- real sockets against ss and the accept counter ----------------------------------------------
@pytest.mark.slow
@needs_linux
async def test_a_session_counts_only_its_own_time_wait(target: TargetProcess) -> None:
    """TIME_WAIT left by an earlier churny run is not the next run's, in the kernel view nor in
    its phases."""
    port = int(target.http_url.rsplit(":", 1)[1])
    churn = SessionConfig(
        concurrency=2, duration=1.0, rate=200, max_vus=4, reuse_mode=ReuseMode.PER_ITERATION
    )
    churned = await run_session(churn, UrlScenario(target.http_url))
    before = KernelView(endpoints_for("127.0.0.1", port)).sample()
    assert before is not None and churned.ledger.opened_total > 100
    assert before.total.time_wait >= 50  # the earlier run's, still there (60 s)
    config = SessionConfig(concurrency=4, duration=2.0, reuse_mode=ReuseMode.SHARED)
    session = Session(config, UrlScenario(target.http_url))
    diagnostics = attach_diagnostics(session, phases=[("shared", 2.0)], detectors=False)
    await asyncio.wait_for(session.run(), 30)
    snapshot = session.snapshot()
    opened = snapshot.connections.opened_total
    assert snapshot.requests_total > 100 and opened <= 8
    assert diagnostics.kernel is not None and diagnostics.kernel.latest is not None
    assert snapshot.kernel is not None and snapshot.kernel.time_wait_peak <= opened
    assert all((p.time_wait or 0) <= opened for p in snapshot.timeline)
    (phase,) = snapshot.phases
    assert phase.time_wait_peak <= opened and phase.time_wait_rise <= opened


def ss_count(port: int, state: str, direction: str = "both") -> int:
    where = {
        "both": f"( sport = :{port} or dport = :{port} )",
        "client": f"( dport = :{port} )",
    }[direction]
    out = subprocess.run(
        ["ss", "-Htan", "state", state, where], capture_output=True, text=True, check=True
    ).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def quiet_port() -> int:
    """A free port below the ephemeral range with no socket on it, not even a TIME_WAIT.

    On a port from the ephemeral range (what port 0 gives) an earlier client's TIME_WAIT may
    still sit with that local port, and would count as the new target's until it expires.
    """
    low, _ = read_port_range()
    candidates = range(20000, min(low or 32768, 32768))
    for port in random.sample(candidates, min(50, len(candidates))):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        sample = KernelView(endpoints_for("127.0.0.1", port)).sample()
        if sample is not None and sample.total == SocketCounts():
            return port
    pytest.skip("no quiet port below the ephemeral range")


@pytest.fixture(scope="module")
def fresh_target() -> Iterator[TargetProcess]:
    """A target on a quiet port of its own: no TIME_WAIT but ours there while we count."""
    with TargetProcess(TargetOptions(port=quiet_port())) as server:
        yield server


def established_now(view: KernelView) -> int | None:
    sample = view.sample()
    return None if sample is None else sample.total.established


def views(port: int) -> list[KernelView]:
    endpoints = endpoints_for("127.0.0.1", port)
    return [KernelView(endpoints, source=Source.NETLINK), KernelView(endpoints, source=Source.PROC)]


@pytest.mark.slow
@needs_linux
async def test_established_both_ends_match_ss_and_the_target(target: TargetProcess) -> None:
    port = int(target.http_url.rsplit(":", 1)[1])
    session = Session(SessionConfig(concurrency=5), UrlScenario(target.http_url + "/delay/20"))
    await session.start()
    try:
        await eventually(lambda: target.open_connections() == session.ledger.open == 5)
        # Settled: no other connection to the port is still closing (both ends show just ours).
        await eventually(lambda: all(established_now(view) == 10 for view in views(port)))
        samples = [await asyncio.to_thread(view.sample) for view in views(port)]
        established = ss_count(port, "established")
        assert target.open_connections() == session.ledger.open == 5
    finally:
        await session.shutdown()
    assert established == 10  # our 5 client sockets and the target's 5
    for sample in samples:
        assert sample is not None and sample.total.established == 10
    assert [s.source for s in samples if s] == ["netlink", "proc"]


@pytest.mark.slow
@needs_linux
async def test_time_wait_matches_ss_and_the_accept_counter(fresh_target: TargetProcess) -> None:
    port = int(fresh_target.http_url.rsplit(":", 1)[1])
    netlink, proc = views(port)
    before = netlink.sample()
    accepted = fresh_target.accepted()
    # Per-iteration: the client closes each connection first, so each leaves one TIME_WAIT on
    # the client side; at 200/s no ephemeral port comes round again within the run.
    config = SessionConfig(
        concurrency=2,
        duration=1.5,
        rate=200,
        max_vus=4,
        reuse_mode=ReuseMode.PER_ITERATION,
    )
    session = await run_session(config, UrlScenario(fresh_target.http_url))
    fresh_target.wait_until(lambda t: t.open_connections() == 0)
    opened = fresh_target.accepted() - accepted
    assert before is not None and opened == session.ledger.opened_total > 200
    first = netlink.sample()
    for _ in range(20):  # the last FINs may still be crossing
        if first is None or first.total.time_wait - before.total.time_wait >= opened:
            break
        await asyncio.sleep(0.05)
        first = netlink.sample()
    time_wait = ss_count(port, "time-wait")
    clients = ss_count(port, "all", "client")
    from_proc = proc.sample()
    last = netlink.sample()
    assert first is not None and from_proc is not None and last is not None
    assert first.total.time_wait >= time_wait >= last.total.time_wait  # ss read in between
    assert first.total.time_wait >= from_proc.total.time_wait >= last.total.time_wait
    assert first.total.time_wait - before.total.time_wait == opened
    assert first.ephemeral_in_use >= clients >= last.ephemeral_in_use
    assert first.ephemeral_in_use >= opened


@pytest.mark.slow
@needs_linux
async def test_a_session_records_the_kernel_view(target: TargetProcess) -> None:
    port = int(target.http_url.rsplit(":", 1)[1])
    config = SessionConfig(concurrency=3, duration=60.0, reuse_mode=ReuseMode.NONE)
    session = Session(config, UrlScenario(target.http_url))
    kernel = KernelExtension()
    session.extensions.append(kernel)
    run = asyncio.create_task(session.run())
    # Until a second's point shows the TIME_WAIT that closing each connection leaves (a kernel
    # read may finish a tick late on a busy machine), then stop: no fixed duration to bet on.
    deadline = asyncio.get_running_loop().time() + 30
    while not any(p.time_wait for p in session.snapshot().timeline):
        assert asyncio.get_running_loop().time() < deadline, "no TIME_WAIT seen in 30 s"
        await asyncio.sleep(0.2)
    session.stop()
    await asyncio.wait_for(run, 30)
    snapshot = session.snapshot()
    assert snapshot.kernel is not None
    label, counts = snapshot.kernel.targets[0]
    assert label == f"127.0.0.1:{port}" and counts == snapshot.kernel.total
    assert snapshot.kernel.time_wait_peak >= max(p.time_wait or 0 for p in snapshot.timeline) > 0
    assert all(isinstance(p.time_wait, int) for p in snapshot.timeline)
    assert all(isinstance(p.established, int) for p in snapshot.timeline)
    assert snapshot.kernel.fds_open > 0 and snapshot.kernel.fds_limit == fd_limit()
    assert kernel.latest is not None and kernel.latest.cost_ms >= 0
    report = report_of(snapshot)
    assert report["time_wait_peak"] == snapshot.kernel.time_wait_peak
    assert report["kernel"]["total"]["time_wait"] == counts.time_wait
    assert "time_wait" in report["timeline"][-1] and "established" in report["timeline"][-1]


class _NumberedReads(KernelExtension):
    """Each reading takes a while (in its thread) and shows how many were begun before it."""

    def __init__(self, read_s: float = 0.3) -> None:
        super().__init__()
        self.began: list[float] = []
        self.read_s = read_s

    def _sample(self, own_ports: bytes) -> KernelSample | None:
        self.began.append(time.perf_counter())
        number = len(self.began)
        time.sleep(self.read_s)
        counts = SocketCounts(time_wait=number)
        return KernelSample((("t", counts),), counts, 0, (0, 0), 0, 0, "fake", 0.0, 0.0)


async def _stopped_after_a_second(
    target: TargetProcess, kernel: KernelExtension
) -> tuple[Session, float]:
    """A session with `kernel`, stopped once its first second's point is in; when it was
    asked to stop (perf_counter)."""
    session = Session(SessionConfig(concurrency=2), UrlScenario(target.http_url))
    session.extensions.append(kernel)
    run = asyncio.create_task(session.run())
    await eventually(lambda: session.snapshot().timeline, what="the first second's point")
    stop_asked = time.perf_counter()
    session.stop()
    await asyncio.wait_for(run, 30)
    return session, stop_asked


async def test_the_last_point_shows_a_reading_taken_as_the_run_ends(
    target: TargetProcess,
) -> None:
    kernel = _NumberedReads()
    session, stop_asked = await _stopped_after_a_second(target, kernel)
    last = session.snapshot().timeline[-1]
    assert last.time_wait == len(kernel.began)  # the last reading begun was waited for
    assert kernel.began[-1] >= stop_asked - kernel.fresh_read_s


async def test_a_slow_reading_begun_at_the_end_is_not_read_again(target: TargetProcess) -> None:
    """Readings longer than `fresh_read_s`: the one begun at the stop is the run's last, not
    followed by another."""
    kernel = _NumberedReads(read_s=KernelExtension.fresh_read_s + 0.2)
    session, stop_asked = await _stopped_after_a_second(target, kernel)
    assert len([t for t in kernel.began if t >= stop_asked]) <= 1
    assert session.snapshot().timeline[-1].time_wait == len(kernel.began)
