"""HTTP/3 over QUIC (aioquic) against the built-in target's UDP listener: counts are exact
against the target's own QUIC counters (connections created, closed, requests)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

pytest.importorskip("aioquic", reason="HTTP/3 needs the http3 extra (aioquic)")

from loadscope.engine import HttpVersion, ReuseMode, Session, SessionConfig, UrlScenario
from loadscope.engine.diagnostics import attach_diagnostics, udp_socket_counts
from loadscope.engine.session import TargetFeed, TargetListScenario, parse_targets
from loadscope.engine.target import TargetOptions, TargetProcess

from .cli_support import loadscope, loadscope_in_process
from .helpers import run_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def h3_target() -> Iterator[TargetProcess]:
    with TargetProcess(TargetOptions(tls=True, http3_port=0)) as target:
        yield target


def h3_config(**overrides: object) -> SessionConfig:
    values: dict[str, object] = {
        "concurrency": 10,
        "duration": 1.0,
        "http_version": HttpVersion.HTTP3,
        "insecure": True,
        "stop_grace": 5.0,
    }
    values.update(overrides)
    return SessionConfig(**values)  # type: ignore[arg-type]


def url(target: TargetProcess, path: str = "/") -> str:
    assert target.http3_url is not None
    return target.http3_url + path


def counts(target: TargetProcess) -> tuple[int, int]:
    return target.accepted("http3"), target.requests("http3")


async def test_streams_share_one_quic_connection(h3_target: TargetProcess) -> None:
    accepted, requests = counts(h3_target)
    session = await run_session(h3_config(), UrlScenario(url(h3_target)))
    snap = session.snapshot()
    assert snap.errors_total == 0 and snap.requests_total > 10
    assert snap.connections.opened_total == 1
    assert h3_target.accepted("http3") - accepted == 1
    assert h3_target.requests("http3") - requests == snap.requests_total
    assert dict(snap.http_versions) == {"HTTP/3": snap.requests_total}
    assert h3_target.wait_until(lambda t: t.open_connections("http3") == 0, timeout=10)


async def test_reuse_none_opens_a_quic_connection_per_request(h3_target: TargetProcess) -> None:
    accepted, requests = counts(h3_target)
    session = await run_session(
        h3_config(concurrency=3, reuse_mode=ReuseMode.NONE), UrlScenario(url(h3_target))
    )
    snap = session.snapshot()
    assert snap.errors_total == 0 and snap.requests_total > 3
    assert snap.connections.opened_total == snap.requests_total
    assert h3_target.accepted("http3") - accepted == snap.requests_total
    assert h3_target.requests("http3") - requests == snap.requests_total


async def test_a_server_close_after_the_answer_opens_a_new_connection(
    h3_target: TargetProcess,
) -> None:
    accepted, requests = counts(h3_target)
    session = await run_session(
        h3_config(concurrency=1, max_iterations=5), UrlScenario(url(h3_target, "/close"))
    )
    snap = session.snapshot()
    assert snap.requests_total == 5 and snap.errors_total == 0
    assert h3_target.requests("http3") - requests == 5
    assert h3_target.accepted("http3") - accepted == snap.connections.opened_total == 5


async def test_a_certificate_that_does_not_verify_fails_without_insecure(
    h3_target: TargetProcess,
) -> None:
    _, requests = counts(h3_target)
    session = await run_session(
        h3_config(concurrency=1, max_iterations=1, insecure=False), UrlScenario(url(h3_target))
    )
    snap = session.snapshot()
    assert snap.requests_total == 0 or snap.errors_total == snap.requests_total
    kinds = {error.kind for error in snap.errors}
    assert kinds == {"tls_verify"}, kinds  # TCP's TLS names it so: one kind, one hint
    assert "certificate verification failed" in snap.errors[0].last_message
    assert h3_target.requests("http3") - requests == 0


async def test_a_failed_quic_handshake_counts_as_opened_as_a_failed_tls_one_does(
    h3_target: TargetProcess,
) -> None:
    """The server answered each handshake, as a TCP accept does before TLS fails: each one is
    opened and closed with an error, for HTTP/3 as for HTTP/1.1 and HTTP/2 over TLS."""
    assert h3_target.https_url is not None
    tls_url = h3_target.https_url + "/"
    opened = {}
    for version, where in ((HttpVersion.HTTP3, url(h3_target)), (HttpVersion.HTTP2, tls_url)):
        config = h3_config(concurrency=1, max_iterations=3, insecure=False, http_version=version)
        snap = (await run_session(config, UrlScenario(where))).snapshot()
        assert snap.errors_total == 3 and snap.requests_total == 3, snap.errors
        assert snap.connections.closed_by_reason == (("error", 3),)
        opened[version] = snap.connections.opened_total
    assert opened == {HttpVersion.HTTP3: 3, HttpVersion.HTTP2: 3}


def test_a_certificate_failure_over_http3_is_one_line_with_the_insecure_hint(
    h3_target: TargetProcess,
) -> None:
    """aioquic logs each failed handshake at WARNING; with no logging configured Python's
    last-resort handler printed it on stderr, once per connection, even with -q."""
    root = logging.getLogger()
    with mock.patch.object(root, "handlers", []):  # as in a real process: none configured
        result = loadscope_in_process("run", url(h3_target), "--http3", "-d", "2s", "-c", "5", "-q")
    assert result.code == 2
    line = result.error_line()
    assert line.startswith("loadscope: target unreachable: "), line
    assert "certificate verification failed" in line and "--insecure" in line, line


async def test_a_stalled_server_fails_the_request_with_a_timeout(h3_target: TargetProcess) -> None:
    session = await run_session(
        h3_config(concurrency=2, max_iterations=2, timeout=0.3),
        UrlScenario(url(h3_target, "/delay/3000")),
    )
    snap = session.snapshot()
    assert {error.kind for error in snap.errors} == {"timeout"}


async def test_a_goaway_moves_the_unserved_requests_to_a_new_connection() -> None:
    """The target sends GOAWAY after 10 requests on a connection and rejects later streams:
    each request is answered once (the target counts what it serves), none fails, and each
    QUIC connection carries exactly 10."""
    with TargetProcess(TargetOptions(tls=True, http3_port=0, http3_goaway_after=10)) as target:
        session = await run_session(
            h3_config(concurrency=4, duration=None, max_iterations=100), UrlScenario(url(target))
        )
        snap = session.snapshot()
        assert snap.errors_total == 0, snap.errors
        assert snap.requests_total == 100 == target.requests("http3")
        assert snap.connections.opened_total == 10 == target.accepted("http3")
        assert dict(snap.connections.closed_by_reason)["goaway"] >= 9
        assert target.wait_until(lambda t: t.open_connections("http3") == 0, timeout=10)


async def test_a_reset_stream_fails_only_its_own_request(h3_target: TargetProcess) -> None:
    """Every third request asks for a RESET_STREAM (H3_INTERNAL_ERROR, 0x102): those fail as
    `stream_reset`, the streams beside them on the same QUIC connection succeed."""
    accepted, requests = counts(h3_target)
    base = url(h3_target)
    lines = [f"GET {base}json", f"GET {base}", f"GET {base}reset/258"]
    feed = TargetFeed("list", parse_targets(lines, "list"))
    session = await run_session(
        h3_config(concurrency=3, duration=None, max_iterations=30), TargetListScenario(feed)
    )
    snap = session.snapshot()
    assert {error.kind: error.count for error in snap.errors} == {"stream_reset": 10}
    assert "(H3_INTERNAL_ERROR, 0x102)" in snap.errors[0].last_message
    steps = {step.name: (step.requests, step.errors) for step in snap.steps}
    assert steps[f"GET {base}reset/258"] == (10, 10)
    assert steps[f"GET {base}json"] == steps[f"GET {base}"] == (10, 0)
    assert h3_target.requests("http3") - requests == 30
    assert h3_target.accepted("http3") - accepted == snap.connections.opened_total == 1


async def test_a_stream_rejected_unprocessed_is_sent_again(h3_target: TargetProcess) -> None:
    """H3_REQUEST_REJECTED (0x10b) says the server did not process the request, so the engine
    sends it again, up to its 3 attempts; this route rejects every time: the target sees 3."""
    _, requests = counts(h3_target)
    session = await run_session(
        h3_config(concurrency=1, duration=None, max_iterations=1),
        UrlScenario(url(h3_target, "/reset/267")),
    )
    snap = session.snapshot()
    assert {error.kind: error.count for error in snap.errors} == {"stream_reset": 1}
    assert h3_target.requests("http3") - requests == 3


def test_the_http3_listener_shares_the_https_port_number(h3_target: TargetProcess) -> None:
    assert h3_target.info is not None
    assert h3_target.info.http3_port == h3_target.info.https_port


async def test_a_live_switch_between_http_versions_moves_to_each_listener(
    h3_target: TargetProcess,
) -> None:
    """One https:// URL: HTTP/1.1 and HTTP/2 reach the TLS listener, HTTP/3 its UDP twin."""
    assert h3_target.https_url is not None
    tcp_before, udp_before = h3_target.accepted("https"), h3_target.accepted("http3")
    session = Session(h3_config(concurrency=2, duration=None), UrlScenario(h3_target.https_url))
    await session.start()
    seen: dict[str, int] = {}
    for version in (HttpVersion.HTTP1, HttpVersion.HTTP3, HttpVersion.HTTP2, HttpVersion.HTTP3):
        session.set_http_version(version)
        await wait_for_new_responses(session, 20)
        seen.update(dict(session.snapshot().http_versions))
    await session.shutdown()
    snap = session.snapshot()
    assert set(seen) == {"HTTP/1.1", "HTTP/2", "HTTP/3"}
    assert snap.errors_total == 0
    tcp_opened = h3_target.accepted("https") - tcp_before
    udp_opened = h3_target.accepted("http3") - udp_before
    assert udp_opened == 2  # one per switch to HTTP/3: the pool keeps one QUIC connection
    assert tcp_opened + udp_opened == snap.connections.opened_total


async def wait_for_new_responses(session: Session, count: int, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    start = session.snapshot().requests_total
    deadline = loop.time() + timeout
    while session.snapshot().requests_total < start + count:
        assert loop.time() < deadline, "no responses after the switch"
        await asyncio.sleep(0.02)


async def test_the_servers_idle_timeout_closes_the_connection_and_the_next_request_reopens() -> (
    None
):
    options = TargetOptions(tls=True, http3_port=0, keepalive_timeout=0.3)
    with TargetProcess(options) as target:
        session = Session(
            h3_config(concurrency=1, duration=None, rate=None), UrlScenario(url(target))
        )
        await session.start()
        await wait_for_new_responses(session, 1)
        session.pause()
        assert await target.wait_until_async(lambda t: t.open_connections("http3") == 0, 10)
        session.resume()
        await wait_for_new_responses(session, 1)
        await session.shutdown()
        snap = session.snapshot()
        assert snap.connections.opened_total == 2 == target.accepted("http3")
        assert snap.errors_total == 0


def test_proc_net_udp_rows_are_read_as_connected_peers(tmp_path: Path) -> None:
    """Scripted /proc rows: two sockets connected to 127.0.0.1:8443 (one over IPv6, mapped),
    one to another port, one unconnected (state 07)."""
    net = tmp_path / "net"
    net.mkdir()
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    (net / "udp").write_text(
        head
        + "   1: 0100007F:A001 0100007F:20FB 01 00000000:00000000 00:00000000 00000000     0\n"
        + "   2: 0100007F:A002 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0\n"
        + "   3: 00000000:A003 00000000:0000 07 00000000:00000000 00:00000000 00000000     0\n"
    )
    (net / "udp6").write_text(
        head + "   4: 00000000000000000000000000000000:A004 "
        "0000000000000000FFFF00000100007F:20FB 01 00000000:00000000 00:00000000 00000000 0\n"
    )
    assert udp_socket_counts("127.0.0.1", 8443, str(tmp_path)).established == 2
    assert udp_socket_counts("127.0.0.1", 8080, str(tmp_path)).established == 1


async def test_the_kernel_view_counts_the_quic_connections_udp_sockets(
    h3_target: TargetProcess,
) -> None:
    session = Session(h3_config(concurrency=4, duration=None), UrlScenario(url(h3_target)))
    attach_diagnostics(session, kernel_view=True, detectors=False)
    await session.start()
    try:
        label = f"udp:127.0.0.1:{h3_target.info.http3_port if h3_target.info else 0}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        rows: dict[str, int] = {}
        while rows.get(label) != 1:
            assert loop.time() < deadline, f"no UDP row for the QUIC connection: {rows}"
            await asyncio.sleep(0.1)
            kernel = session.snapshot().kernel
            rows = {name: counts.established for name, counts in kernel.targets} if kernel else {}
    finally:
        session.stop()
        await session.shutdown()


def test_the_command_line_runs_http3_against_the_target(h3_target: TargetProcess) -> None:
    _, requests = counts(h3_target)
    result = loadscope(
        "run", url(h3_target, "/json"), "--http3", "-k", "-c", "4", "--iterations", "20",
        "--format", "json",
    )  # fmt: skip
    report = result.json()
    assert report["requests_total"] == 20 == h3_target.requests("http3") - requests
    assert report["http_versions"] == {"HTTP/3": 20}
    assert report["connections_opened"] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("run", "http://127.0.0.1:9/", "--http3"), "give an https:// URL"),
        (("run", "https://127.0.0.1:9/", "--http3", "--proxy", "http://127.0.0.1:9"), "direct"),
        (("target", "--http3-port", "0"), "HTTP/3 needs tls"),
    ],
)
def test_http3_flags_that_cannot_work_are_one_line_and_exit_2(
    arguments: tuple[str, ...], message: str
) -> None:
    result = loadscope(*arguments)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1
