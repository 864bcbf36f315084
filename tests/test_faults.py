"""The engine against a fault-injecting server of our own: whatever the fault, loadscope's counts
equal the server's counters (connections accepted, responses answered, resets sent)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from loadscope.engine import HttpVersion, SessionConfig, UrlScenario
from loadscope.engine._config import RunnerConfig
from loadscope.engine.diagnostics._ledger import ConnectionLedger
from loadscope.engine.metrics._snapshot import Snapshot
from loadscope.engine.target import TargetProcess
from loadscope.engine.target._cert import write_self_signed
from loadscope.engine.transport import RawRequest, Runner
from loadscope.engine.transport._errors import BodyTooLarge

from .fault_server import (
    BIG_BODY,
    GOAWAY_AFTER,
    SETTINGS_CHANGE_AFTER,
    Fault,
    FaultServer,
    tls_context,
)
from .helpers import run_session

Serve = Callable[..., Awaitable[FaultServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[FaultServer] = []

    async def start(fault: Fault, **options: object) -> FaultServer:
        server = FaultServer(fault, **options)  # type: ignore[arg-type]
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return write_self_signed(tmp_path_factory.mktemp("fault-tls"))


async def run_against(
    server: FaultServer,
    *,
    expect_status: str = "200-399",
    method: str = "GET",
    body: bytes | None = None,
    **overrides: object,
) -> Snapshot:
    values: dict[str, object] = {
        "concurrency": 4,
        "duration": 1.0,
        "stop_grace": 5.0,
        "timeout": 5.0,
        "kernel_view": False,
    }
    values.update(overrides)
    scenario = UrlScenario(server.url, method=method, body=body, expect_status=expect_status)
    session = await run_session(SessionConfig(**values), scenario)  # type: ignore[arg-type]
    await server.quiesce()
    return session.snapshot()


def responses(snap: Snapshot) -> int:
    return snap.requests_total - snap.errors_total


def error_kinds(snap: Snapshot) -> dict[str, int]:
    return {error.kind: error.count for error in snap.errors}


def assert_counts_match(snap: Snapshot, server: FaultServer) -> None:
    assert server.accepted > 0
    assert snap.connections.opened_total == server.accepted
    assert responses(snap) == server.answered


# -- TCP and HTTP/1.1 ---------------------------------------------------------------------------
async def test_reset_right_after_accept(serve: Serve) -> None:
    server = await serve(Fault.RESET_AFTER_ACCEPT)
    snap = await run_against(server, concurrency=2)
    assert_counts_match(snap, server)
    assert server.resets_sent == server.accepted
    assert error_kinds(snap) == {"connection_reset": server.resets_sent}
    assert dict(snap.connections.closed_by_reason) == {"connection_reset": server.accepted}


async def test_reset_mid_response(serve: Serve) -> None:
    server = await serve(Fault.RESET_MID_RESPONSE)
    snap = await run_against(server, concurrency=2)
    assert_counts_match(snap, server)
    assert server.answered == 0 and server.resets_sent == server.broken > 0
    assert error_kinds(snap) == {"connection_reset": server.resets_sent}


async def test_short_body_is_peer_closed(serve: Serve) -> None:
    server = await serve(Fault.SHORT_BODY)
    snap = await run_against(server, concurrency=2)
    assert_counts_match(snap, server)
    assert error_kinds(snap) == {"peer_closed": server.broken} and server.broken > 0


async def test_hung_server_times_out(serve: Serve) -> None:
    server = await serve(Fault.HUNG)
    snap = await run_against(server, concurrency=2, timeout=0.5)
    assert_counts_match(snap, server)
    assert error_kinds(snap) == {"timeout": server.unanswered} and server.unanswered > 0


async def test_slow_headers_are_waited_for(serve: Serve) -> None:
    server = await serve(Fault.SLOW_HEADERS)
    snap = await run_against(server, concurrency=2)
    assert_counts_match(snap, server)
    assert snap.errors_total == 0 and server.answered > 0


async def test_connection_close_opens_one_connection_per_response(serve: Serve) -> None:
    server = await serve(Fault.CONNECTION_CLOSE)
    snap = await run_against(server, concurrency=2)
    assert_counts_match(snap, server)
    assert snap.errors_total == 0 and server.accepted == server.answered > 0


async def test_idle_close_by_server_is_survived(serve: Serve) -> None:
    server = await serve(Fault.IDLE_CLOSE)
    # Paced, so pooled connections sit idle longer than the server keeps them.
    snap = await run_against(server, concurrency=2, max_iterations_per_second=20.0)
    assert_counts_match(snap, server)
    assert snap.errors_total == 0 and server.answered > 0


async def test_5xx_storm_is_counted_as_responses(serve: Serve) -> None:
    server = await serve(Fault.STATUS_503)
    snap = await run_against(server, expect_status="200-599")  # every status is an answer here
    assert_counts_match(snap, server)
    assert snap.errors_total == 0 and dict(snap.status_codes) == {503: server.answered}


async def test_5xx_storm_fails_its_iterations_by_default_in_url_mode(serve: Serve) -> None:
    server = await serve(Fault.STATUS_503)
    snap = await run_against(server)
    assert dict(snap.status_codes) == {503: server.answered}
    assert error_kinds(snap) == {"http_status": server.answered}
    assert snap.iterations_failed == server.answered


async def test_50mb_bodies_are_counted_not_kept(serve: Serve) -> None:
    server = await serve(Fault.BIG_BODY)
    snap = await run_against(server, concurrency=2)
    assert_counts_match(snap, server)
    assert snap.errors_total == 0 and server.answered > 0
    assert snap.bytes_received == server.body_bytes_sent == server.answered * BIG_BODY


async def test_chunked_bodies_are_counted(serve: Serve) -> None:
    server = await serve(Fault.CHUNKED)
    snap = await run_against(server, concurrency=2)
    assert_counts_match(snap, server)
    assert snap.errors_total == 0 and snap.bytes_received == server.body_bytes_sent > 0


async def test_malformed_response_is_a_protocol_error(serve: Serve) -> None:
    server = await serve(Fault.MALFORMED)
    snap = await run_against(server, concurrency=2)
    assert_counts_match(snap, server)
    assert error_kinds(snap) == {"protocol_error": server.broken} and server.broken > 0


@pytest.mark.slow
async def test_server_that_dies_and_comes_back(serve: Serve) -> None:
    server = await serve(Fault.NONE)

    async def outage() -> None:
        deadline = time.monotonic() + 5.0
        while server.answered < 50 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await server.stop()
        await asyncio.sleep(0.3)
        await server.start()  # the same port again

    restart = asyncio.create_task(outage())
    snap = await run_against(server, concurrency=2, duration=2.0)
    await restart
    await server.quiesce()
    assert_counts_match(snap, server)
    kinds = error_kinds(snap)
    assert kinds.get("connect_refused", 0) > 0
    assert set(kinds) <= {"connect_refused", "peer_closed", "connection_reset"}


# -- HTTP/2 (h2c and TLS) -----------------------------------------------------------------------
async def test_h2c_goaway_moves_requests_to_a_new_connection(serve: Serve) -> None:
    server = await serve(Fault.GOAWAY, h2c=True)
    snap = await run_against(server, http_version=HttpVersion.HTTP2)
    assert_counts_match(snap, server)
    assert snap.errors_total == 0 and server.answered > GOAWAY_AFTER and server.accepted > 1
    assert dict(snap.http_versions) == {"HTTP/2": server.answered}


async def test_h2c_rst_stream_fails_only_that_stream(serve: Serve) -> None:
    server = await serve(Fault.RST_STREAM, h2c=True)
    snap = await run_against(server, http_version=HttpVersion.HTTP2)
    assert_counts_match(snap, server)
    assert error_kinds(snap) == {"stream_reset": server.resets_sent} and server.resets_sent > 0


async def test_h2c_uploads_all_finish_when_many_streams_wait_for_a_tiny_window(
    serve: Serve,
) -> None:
    # A 16-byte initial window, 32 KiB returned at a time: 4 streams wait for window at once,
    # and every one must wake when its window (or the connection's) opens.
    server = await serve(Fault.TINY_WINDOW, h2c=True)
    upload = b"u" * 64 * 1024
    snap = await run_against(server, http_version=HttpVersion.HTTP2, method="POST", body=upload)
    assert_counts_match(snap, server)
    assert snap.errors_total == 0 and server.answered >= 4
    assert server.body_bytes_received == server.answered * len(upload)
    assert server.flow_control_errors == 0 and server.accepted == 1


async def test_h2c_settings_lowered_mid_connection_are_obeyed(serve: Serve) -> None:
    # After a few answers the server allows 1 stream and a 1 KiB initial window while 4 VUs
    # upload 4 KiB each: no stream over the limit, no window overrun, no request lost.
    server = await serve(Fault.SETTINGS_CHANGE, h2c=True)
    upload = b"s" * 4096
    snap = await run_against(server, http_version=HttpVersion.HTTP2, method="POST", body=upload)
    assert_counts_match(snap, server)
    assert snap.errors_total == 0 and server.answered > SETTINGS_CHANGE_AFTER
    assert server.settings_changes == server.accepted == 1
    assert server.too_many_streams == 0 and server.flow_control_errors == 0
    assert server.body_bytes_received == server.answered * len(upload)


async def test_tls_h2_max_concurrent_streams_1_is_respected(
    serve: Serve, certificate: tuple[str, str]
) -> None:
    server = await serve(Fault.ONE_STREAM, tls=tls_context(*certificate, ["h2"]))
    snap = await run_against(server, insecure=True)
    assert_counts_match(snap, server)
    assert server.too_many_streams == 0 and snap.errors_total == 0 and server.answered > 0
    assert dict(snap.http_versions) == {"HTTP/2": server.answered}


async def test_tls_bad_certificate_is_a_verification_error(
    serve: Serve, certificate: tuple[str, str]
) -> None:
    server = await serve(Fault.NONE, tls=tls_context(*certificate, ["h2", "http/1.1"]))
    snap = await run_against(server, concurrency=2)  # no cacert, no --insecure
    assert_counts_match(snap, server)
    assert error_kinds(snap) == {"tls_verify": server.accepted}


async def test_tls_handshake_that_hangs_times_out_for_every_vu(
    serve: Serve, certificate: tuple[str, str]
) -> None:
    server = await serve(Fault.TLS_HANG, tls=tls_context(*certificate, ["h2", "http/1.1"]))
    vus = 4
    snap = await run_against(
        server, concurrency=vus, duration=1.5, connect_timeout=0.5, insecure=True
    )
    assert_counts_match(snap, server)
    assert error_kinds(snap) == {"connect_timeout": server.accepted}
    # The VUs waiting on the first (ALPN) handshake were released and each tried for itself.
    assert server.accepted >= vus


# -- bodies the caller keeps -------------------------------------------------------------------
@pytest.mark.parametrize("version", [HttpVersion.HTTP1, HttpVersion.HTTP2])
async def test_kept_body_stops_at_max_body(target: TargetProcess, version: HttpVersion) -> None:
    ledger = ConnectionLedger()
    runner = Runner(
        RunnerConfig(name="t", base_url=target.http_url),
        SessionConfig(max_body=100_000, http_version=version),
        ledger,
    )
    try:
        kept = await runner.shared.exchange(_get(runner, "/bytes/100000", keep=True), 10.0)
        assert len(kept.body) == kept.body_size == 100_000
        counted = await runner.shared.exchange(_get(runner, "/bytes/300000", keep=False), 10.0)
        assert counted.body == b"" and counted.body_size == 300_000
        with pytest.raises(BodyTooLarge) as too_large:
            await runner.shared.exchange(_get(runner, "/bytes/100001", keep=True), 10.0)
        assert too_large.value.kind == "body_too_large"
    finally:
        await runner.aclose()
    assert ledger.open == 0


def _get(runner: Runner, path: str, *, keep: bool) -> RawRequest:
    return runner.build_request("GET", path, keep_body=keep)
