"""The built-in target: every endpoint over HTTP/1.1, h2c, h2 and HTTP/1.1 over TLS, its accept
counter (the ground truth other tests rely on), its knobs, and its process lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from loadscope.engine.target import (
    Listener,
    PlainProtocols,
    TargetInfo,
    TargetOptions,
    TargetProcess,
    serve,
)

from .helpers import eventually, own_tcp_states

pytestmark = pytest.mark.timeout(30)


@dataclass(frozen=True)
class Proto:
    name: str
    listener: Listener
    client_options: dict[str, bool]
    http_version: str


PROTOCOLS = [
    Proto("h1", Listener.HTTP, {}, "HTTP/1.1"),
    Proto("h2c", Listener.HTTP, {"http1": False, "http2": True}, "HTTP/2"),
    Proto("h2-tls", Listener.HTTPS, {"http2": True}, "HTTP/2"),
    Proto("h1-tls", Listener.HTTPS, {"http1": True, "http2": False}, "HTTP/1.1"),
]


@pytest.fixture(scope="module")
def target() -> Iterator[TargetProcess]:
    with TargetProcess(TargetOptions(tls=True)) as started:
        yield started


@pytest.fixture(params=PROTOCOLS, ids=[proto.name for proto in PROTOCOLS])
def proto(request: pytest.FixtureRequest) -> Proto:
    return request.param


def client_for(target: TargetProcess, proto: Proto, **options: object) -> httpx.AsyncClient:
    base = target.http_url if proto.listener is Listener.HTTP else target.https_url
    assert base is not None
    verify = ssl.create_default_context(cafile=target.cert_path) if target.cert_path else True
    return httpx.AsyncClient(
        base_url=base,
        verify=verify,
        timeout=5.0,
        **proto.client_options,  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def client(target: TargetProcess, proto: Proto) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(target, proto) as each:
        yield each


# -- endpoints, over every protocol ---------------------------------------------------------------
async def test_root_and_json(client: httpx.AsyncClient, proto: Proto) -> None:
    response = await client.get("/")
    assert (response.status_code, response.text) == (200, "ok\n")
    assert response.http_version == proto.http_version
    response = await client.get("/json")
    assert response.headers["content-type"] == "application/json"
    assert response.json()["ok"] is True


@pytest.mark.parametrize("size", [0, 1, 1_000_000])
async def test_bytes(client: httpx.AsyncClient, size: int) -> None:
    response = await client.get(f"/bytes/{size}")
    assert response.status_code == 200
    assert len(response.content) == size
    assert response.headers["content-length"] == str(size)


async def test_head_has_length_and_no_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/bytes/10")
    assert response.status_code == 200
    assert response.headers["content-length"] == "10"
    assert response.content == b""


@pytest.mark.slow
async def test_echo(client: httpx.AsyncClient, proto: Proto) -> None:
    response = await client.post(
        "/echo?a=1&a=2&b=x", json={"hello": "world"}, headers={"x-test": "yes"}
    )
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo"
    assert echoed["query"] == "a=1&a=2&b=x"
    assert echoed["args"] == {"a": ["1", "2"], "b": "x"}
    assert echoed["headers"]["x-test"] == "yes"
    assert echoed["json"] == {"hello": "world"}
    assert echoed["body"] == response.request.content.decode()  # the bytes, as the client sent them
    assert echoed["http_version"] == proto.http_version


async def test_echo_binary_body(client: httpx.AsyncClient) -> None:
    response = await client.put("/echo", content=b"\xff\x00\xfe")
    echoed = response.json()
    assert (echoed["method"], echoed["body_encoding"], echoed["body"]) == ("PUT", "base64", "/wD+")


async def test_large_and_streamed_uploads(client: httpx.AsyncClient) -> None:
    body = b"a" * 300_000  # past HTTP/2's default 64 KiB window
    assert len((await client.post("/echo", content=body)).json()["body"]) == len(body)

    async def chunks() -> AsyncIterator[bytes]:  # HTTP/1.1: chunked transfer encoding
        for _ in range(3):
            yield b"abc"

    assert (await client.post("/echo", content=chunks())).json()["body"] == "abc" * 3


@pytest.mark.slow
async def test_delay_uses_a_timer(client: httpx.AsyncClient, target: TargetProcess) -> None:
    """Concurrent, not one after another: all five requests are with the server at once,
    none answered yet (the server counts a request when it has read it)."""
    before = target.requests()
    calls = [asyncio.create_task(client.get("/delay/3000")) for _ in range(5)]
    await eventually(lambda: target.requests() >= before + 5, what="five requests read")
    assert not any(call.done() for call in calls)
    responses = await asyncio.gather(*calls)
    assert [r.json() for r in responses] == [{"delayed_ms": 3000}] * 5


@pytest.mark.parametrize("code", [200, 201, 204, 304, 404, 418, 503, 599])
async def test_status(client: httpx.AsyncClient, code: int) -> None:
    response = await client.get(f"/status/{code}")
    assert response.status_code == code
    if code in (204, 304):
        assert response.content == b""


async def test_status_out_of_range(client: httpx.AsyncClient) -> None:
    assert (await client.get("/status/99")).status_code == 400


async def test_not_found(client: httpx.AsyncClient) -> None:
    for path in ("/nope", "/bytes/abc", "/bytes/", "/users/x"):
        assert (await client.get(path)).status_code == 404, path


async def test_close_ends_the_connection(
    target: TargetProcess, client: httpx.AsyncClient, proto: Proto
) -> None:
    before = target.accepted()
    first = await client.get("/close")
    assert first.status_code == 200
    if proto.http_version == "HTTP/1.1":
        assert first.headers["connection"] == "close"
    # The next request can't reuse the closed connection (HTTP/2: GOAWAY came after /close).
    await client.get("/close")
    assert target.accepted() - before == 2


async def test_reset_resets_the_stream_or_the_http1_connection(
    target: TargetProcess, client: httpx.AsyncClient, proto: Proto
) -> None:
    before = target.accepted()
    with pytest.raises(httpx.TransportError):
        await client.get("/reset/2")
    assert (await client.get("/")).status_code == 200
    # HTTP/2 resets the one stream and keeps the connection; HTTP/1.1 resets the connection.
    assert target.accepted() - before == (2 if proto.http_version == "HTTP/1.1" else 1)
    assert (await client.get(f"/reset/{2**32}")).status_code == 400


H2_PROTOCOLS = [proto for proto in PROTOCOLS if proto.http_version == "HTTP/2"]


@pytest.mark.parametrize("proto", H2_PROTOCOLS, ids=[proto.name for proto in H2_PROTOCOLS])
async def test_h2_close_answers_streams_in_flight_first(
    target: TargetProcess, proto: Proto
) -> None:
    # h2 clients (httpx's, the engine's) can't take a frame after GOAWAY: it must come last.
    async with client_for(target, proto) as client:
        before = target.accepted()
        answers = await asyncio.gather(
            client.get("/delay/150"), client.get("/close"), client.get("/delay/50")
        )
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert target.accepted() - before == 1
        assert (await client.get("/")).status_code == 200
        assert target.accepted() - before == 2


async def test_users(client: httpx.AsyncClient) -> None:
    created = await client.post("/users", json={"name": "ada"})
    assert created.status_code == 201
    user = created.json()
    assert user["name"] == "ada" and isinstance(user["id"], int)
    assert created.headers["location"] == f"/users/{user['id']}"
    assert (await client.get(f"/users/{user['id']}")).json() == user
    assert (await client.get("/users/987654321")).status_code == 404
    assert (await client.post("/users", content=b"{not json")).status_code == 400
    assert (await client.post("/users", json=[1, 2])).status_code == 400
    assert (await client.delete(f"/users/{user['id']}")).status_code == 405


async def test_login_sets_a_session_cookie(client: httpx.AsyncClient) -> None:
    assert (await client.get("/me")).status_code == 401
    login = await client.get("/login?user=grace")
    assert login.status_code == 200
    assert login.headers["set-cookie"].startswith("session=")
    assert "Path=/" in login.headers["set-cookie"]
    me = await client.get("/me")
    assert (me.status_code, me.json()["user"]) == (200, "grace")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["form", "json"])
async def test_login_post(client: httpx.AsyncClient, how: str) -> None:
    credentials = {"user": "alice", "password": "secret"}
    if how == "form":
        login = await client.post("/login", data=credentials)
    else:
        login = await client.post("/login", json=credentials)
    assert login.json()["user"] == "alice"
    assert (await client.get("/me")).json() == {"user": "alice", "authenticated": True}
    client.cookies.clear()
    assert (await client.get("/me")).status_code == 401


async def test_me_rejects_a_forged_cookie(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers={"cookie": "session=YWRtaW4.0000"})
    assert response.status_code == 401


async def test_form_urlencoded(client: httpx.AsyncClient) -> None:
    response = await client.post("/form", data={"user": "bob", "tags": ["a", "b"]})
    assert response.json() == {
        "content_type": "application/x-www-form-urlencoded",
        "fields": {"user": "bob", "tags": ["a", "b"]},
        "files": {},
    }


async def test_form_multipart(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/form",
        data={"user": "bob"},
        files={"upload": ("notes.txt", b"hello\n", "text/plain")},
    )
    form = response.json()
    assert form["content_type"] == "multipart/form-data"
    assert form["fields"] == {"user": "bob"}
    upload = form["files"]["upload"]
    assert (upload["filename"], upload["content_type"], upload["size"]) == (
        "notes.txt",
        "text/plain",
        6,
    )


async def test_form_rejects_other_bodies(client: httpx.AsyncClient) -> None:
    assert (await client.post("/form", json={"a": 1})).status_code == 415


async def test_redirect_chain(client: httpx.AsyncClient) -> None:
    response = await client.get("/redirect/3", follow_redirects=True)
    assert (response.status_code, response.text) == (200, "ok\n")
    assert [r.headers["location"] for r in response.history] == ["/redirect/2", "/redirect/1", "/"]
    assert all(r.status_code == 302 for r in response.history)


async def test_stats_count_this_connection(
    target: TargetProcess, client: httpx.AsyncClient, proto: Proto
) -> None:
    before = target.accepted(proto.listener)
    stats = (await client.get("/__stats")).json()
    assert stats["listeners"][proto.listener.value]["accepted"] == before + 1
    assert (
        stats["accepted"]
        == stats["listeners"]["http"]["accepted"] + (stats["listeners"]["https"]["accepted"])
    )
    assert stats["open"] >= 1 and stats["workers"] == 1


# -- the accept counter ---------------------------------------------------------------------------
@pytest.mark.slow
async def test_separate_clients_count_one_each(target: TargetProcess, proto: Proto) -> None:
    before, before_other = target.accepted(proto.listener), target.accepted(_other(proto))
    for _ in range(5):
        async with client_for(target, proto) as client:
            assert (await client.get("/")).status_code == 200
    assert target.accepted(proto.listener) - before == 5
    assert target.accepted(_other(proto)) == before_other


@pytest.mark.slow
async def test_keepalive_client_counts_once(target: TargetProcess, proto: Proto) -> None:
    before, requests_before = target.accepted(), target.requests()
    async with client_for(target, proto) as client:
        for _ in range(20):
            assert (await client.get("/")).status_code == 200
        assert target.open_connections(proto.listener) >= 1
    assert target.accepted() - before == 1
    assert target.requests() - requests_before == 20


async def test_open_connections_follow_clients(target: TargetProcess) -> None:
    assert target.wait_until(lambda t: t.open_connections() == 0)
    clients = [client_for(target, PROTOCOLS[0]) for _ in range(3)]
    for client in clients:
        await client.get("/")
    assert target.open_connections() == 3
    for client in clients:
        await client.aclose()
    assert await target.wait_until_async(lambda t: t.open_connections() == 0)


def test_bare_tcp_connections_count(target: TargetProcess) -> None:
    before = target.accepted()
    for port in (_port(target.http_url), _port(target.https_url)):
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    assert target.wait_until(lambda t: t.accepted() - before == 2)
    assert target.wait_until(lambda t: t.open_connections() == 0)


def test_failed_tls_handshake_still_counts(target: TargetProcess) -> None:
    before = target.accepted(Listener.HTTPS)
    with socket.create_connection(("127.0.0.1", _port(target.https_url)), timeout=2) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP on the TLS port
        with contextlib.suppress(OSError):
            sock.recv(1024)
    assert target.wait_until(lambda t: t.accepted(Listener.HTTPS) - before == 1)
    assert target.wait_until(lambda t: t.open_connections() == 0)


def test_pipelined_requests_answer_in_order(target: TargetProcess) -> None:
    with socket.create_connection(("127.0.0.1", _port(target.http_url)), timeout=2) as sock:
        sock.sendall(
            b"GET /delay/50 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /bytes/4 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /close HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        data = _read_until_closed(sock)
    delayed, rest = data.index(b"delayed_ms"), data.index(b"xxxx")
    assert 0 < delayed < rest < data.index(b"connection: close")
    assert data.count(b"HTTP/1.1 200 OK") == 3


def test_bad_request_gets_400_and_close(target: TargetProcess) -> None:
    with socket.create_connection(("127.0.0.1", _port(target.http_url)), timeout=2) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        data = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 400 ")


# -- knobs ---------------------------------------------------------------------------------------
@pytest.mark.slow
async def test_always_close() -> None:
    with TargetProcess(TargetOptions(tls=True, always_close=True)) as target:
        for proto in PROTOCOLS:
            assert await target.wait_until_async(lambda t: t.open_connections() == 0)
            before = target.accepted()
            async with client_for(target, proto) as client:
                for _ in range(3):
                    response = await client.get("/")
                    assert response.status_code == 200
                    if proto.http_version == "HTTP/1.1":
                        assert response.headers["connection"] == "close"
            assert target.accepted() - before == 3, proto.name
        assert target.wait_until(lambda t: t.open_connections() == 0)


@pytest.mark.slow
async def test_keepalive_timeout_closes_idle_connections() -> None:
    with TargetProcess(TargetOptions(tls=True, keepalive_timeout=0.3)) as target:
        for proto in PROTOCOLS:
            assert await target.wait_until_async(lambda t: t.open_connections() == 0)
            before = target.accepted()
            async with client_for(target, proto) as client:
                response = await client.get("/")
                if proto.http_version == "HTTP/1.1":
                    assert response.headers["keep-alive"] == "timeout=0.3"
                else:
                    assert "keep-alive" not in response.headers  # connection-specific in h2
                assert target.open_connections() == 1
                assert await target.wait_until_async(lambda t: t.open_connections() == 0)
                # The client's socket has seen the server's FIN (none is ESTABLISHED any more).
                await eventually(lambda: not established_from_here(target), what="the FIN")
                assert (await client.get("/")).status_code == 200
            assert target.accepted() - before == 2, proto.name


@pytest.mark.slow
async def test_keepalive_timeout_spares_busy_connections() -> None:
    with TargetProcess(TargetOptions(keepalive_timeout=0.2)) as target:
        async with client_for(target, PROTOCOLS[0]) as client:
            assert (await client.get("/delay/400")).status_code == 200  # longer than the timeout
            assert (await client.get("/")).status_code == 200
        assert target.accepted() == 1


@pytest.mark.slow
@pytest.mark.parametrize("plain", ["http1", "h2c"])
async def test_plain_port_can_speak_one_protocol_only(plain: str) -> None:
    with TargetProcess(TargetOptions(plain=PlainProtocols(plain))) as target:
        speaks = {"http1": "h1", "h2c": "h2c"}[plain]
        for proto in PROTOCOLS[:2]:  # h1, h2c
            async with client_for(target, proto) as client:
                if proto.name == speaks:
                    assert (await client.get("/")).status_code == 200
                else:
                    with pytest.raises(httpx.HTTPError):
                        await client.get("/")


@pytest.mark.slow
async def test_two_workers_share_the_counter() -> None:
    with TargetProcess(TargetOptions(workers=2, tls=True)) as target:
        assert len(set(target.pids)) == 2
        for proto in (PROTOCOLS[0], PROTOCOLS[2]):
            for _ in range(10):
                async with client_for(target, proto) as client:
                    assert (await client.get("/")).status_code == 200
        assert target.accepted() == 20
        assert target.accepted("http") == target.accepted("https") == 10
        stats = target.stats()
        assert stats["workers"] == 2 and stats["requests"] == 20
        async with client_for(target, PROTOCOLS[0]) as client:
            await client.get("/login?user=w")  # a session made by one worker ...
            for _ in range(4):  # ... is good on either (new connections land on both)
                client.headers["connection"] = "close"
                assert (await client.get("/me")).status_code == 200
    for pid in target.pids:
        assert not _alive(pid)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="loopback"):
        TargetOptions(host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        TargetOptions(host="localhost")
    with pytest.raises(ValueError):
        TargetOptions(workers=0)


# -- lifecycle -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_stop_leaves_no_process_and_no_certificate() -> None:
    target = TargetProcess(TargetOptions(tls=True)).start()
    pids, cert = target.pids, target.cert_path
    assert cert is not None and Path(cert).exists()
    assert all(_alive(pid) for pid in pids)
    started = time.monotonic()
    target.stop()
    assert time.monotonic() - started < 3.0
    assert not any(_alive(pid) for pid in pids)
    assert not Path(cert).exists()
    assert not target.is_alive()
    target.stop()  # twice is fine


@pytest.mark.slow
def test_port_in_use_fails_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="failed to start"):
            TargetProcess(TargetOptions(port=port)).start()


@pytest.mark.slow
def test_children_die_with_their_parent(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time\n"
        "from loadscope.engine.target import TargetProcess\n"
        "if __name__ == '__main__':\n"
        "    target = TargetProcess().start()\n"
        "    print(target.pids[0], flush=True)\n"
        "    time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, cwd=_repo(), text=True
    )
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        parent.kill()  # no atexit, no finalizer: the child must notice on its own
        parent.wait(5)
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(child)
    finally:
        parent.kill()
        parent.wait(5)
        if parent.stdout is not None:
            parent.stdout.close()


@pytest.mark.slow
def test_run_foreground_stops_on_sigint() -> None:
    code = (
        "from loadscope.engine.target import TargetOptions, run_foreground\n"
        "raise SystemExit(run_foreground(TargetOptions(tls=True)))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=_repo(), text=True
    )
    try:
        banner = [process.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        pids = [int(pid) for pid in banner[0].rsplit("pid", 1)[1].split(",")]
        url = banner[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and banner[2].split()[0].startswith("https://")
        assert httpx.get(url + "/", timeout=5).text == "ok\n"
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
        assert not any(_alive(pid) for pid in pids)
    finally:
        process.kill()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


async def test_serve_in_process() -> None:
    ready: asyncio.Future[TargetInfo] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(TargetOptions(tls=True), ready.set_result))
    info = await asyncio.wait_for(ready, 5)
    assert info.cert_path is not None and info.https_url is not None
    context = ssl.create_default_context(cafile=info.cert_path)
    async with httpx.AsyncClient(verify=context, http2=True) as client:
        response = await client.get(info.https_url + "/__stats")
        assert response.http_version == "HTTP/2"
        assert response.json()["accepted"] == 1
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert not Path(info.cert_path).exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", info.http_port), timeout=1).close()


# -- helpers -------------------------------------------------------------------------------------
def _other(proto: Proto) -> Listener:
    return Listener.HTTPS if proto.listener is Listener.HTTP else Listener.HTTP


def _port(url: str | None) -> int:
    assert url is not None
    return int(url.rsplit(":", 1)[1])


def _read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited but not been reaped yet: it no longer runs.
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def _repo() -> str:
    return str(Path(__file__).resolve().parents[1])


def established_from_here(target: TargetProcess) -> int:
    """This process's ESTABLISHED connections to either of the target's ports."""
    urls = [target.http_url, target.https_url or target.http_url]
    ports = {int(url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]) for url in urls}
    return sum(own_tcp_states(port).get("ESTABLISHED", 0) for port in ports)
