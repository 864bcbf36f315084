#!/usr/bin/env python3
"""Other clients' load loops, for measuring loadscope against them in the same run.

Each peer keeps N workers sending GET to one URL until a deadline (at most 60 s away), then
prints one JSON line: requests, ok, errors by kind, seconds, CPU seconds of the loop, req/s and
CPU ms per request. Connections are counted by the caller, from the target's own accept counter.

    python bench/peers.py aiohttp          -c 50 -d 5 --url http://127.0.0.1:18080/
    python bench/peers.py httpx-shared     ...   # one httpx.AsyncClient for every worker
    python bench/peers.py httpx-per-worker ...   # one httpx.AsyncClient per worker
    python bench/peers.py httpx-h2         ...   # one HTTP/2 httpx.AsyncClient (https: or h2c)
    python bench/peers.py raw              ...   # asyncio streams, one keep-alive connection
                                                 # per worker: the pure-Python ceiling
    python bench/peers.py raw-uvloop       ...   # the same loop on uvloop (loadscope's default)
    python bench/peers.py locust           ...   # Locust's FastHttpUser, headless, one process
                                                 # (plain http: it sent nothing over TLS here)
    python bench/peers.py aioquic-h3       ...   # aioquic's own HTTP/3 client API, one QUIC
                                                 # connection, N streams (https: URL, UDP port)

TLS certificates are not verified (the bench target's is self-signed). aiohttp, httpx[http2] and
locust are needed only by the peers that use them (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MAX_SECONDS = 60.0
Send = Callable[[], Awaitable[int]]  # one request; returns the response status


@dataclass
class Tally:
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cpu_s: float = 0.0

    @property
    def requests(self) -> int:
        return self.ok + sum(self.errors.values())


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def drive(senders: list[Send], seconds: float) -> Tally:
    """One worker per sender, each sending back to back until the deadline."""
    tally = Tally()
    deadline = time.monotonic() + seconds

    async def worker(send: Send) -> None:
        while time.monotonic() < deadline:
            try:
                status = await send()
            except Exception as error:  # a failed request is counted, never fatal
                tally.errors[type(error).__name__] += 1
                continue
            if status < 400:
                tally.ok += 1
            else:
                tally.errors[f"HTTP {status}"] += 1

    started, cpu = time.monotonic(), cpu_seconds()
    await asyncio.gather(*(worker(send) for send in senders))
    tally.seconds, tally.cpu_s = time.monotonic() - started, cpu_seconds() - cpu
    return tally


# -- the peers -----------------------------------------------------------------------------------


async def aiohttp_peer(url: str, workers: int, seconds: float) -> Tally:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=workers, ssl=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send() -> int:
            async with session.get(url) as response:
                await response.read()
                return int(response.status)

        return await drive([send] * workers, seconds)


def httpx_client(url: str, connections: int, http2: bool) -> Any:
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    prior_knowledge = http2 and url.startswith("http:")
    return httpx.AsyncClient(limits=limits, http2=http2, http1=not prior_knowledge, verify=False)


def httpx_sender(client: Any, url: str) -> Send:
    async def send() -> int:
        response = await client.get(url)
        return int(response.status_code)

    return send


async def httpx_peer(url: str, workers: int, seconds: float, clients: int, http2: bool) -> Tally:
    """`clients` AsyncClients shared round-robin by the workers (1: all share one client)."""
    pool = [httpx_client(url, -(-workers // clients), http2) for _ in range(clients)]
    try:
        senders = [httpx_sender(pool[index % clients], url) for index in range(workers)]
        return await drive(senders, seconds)
    finally:
        for client in pool:
            await client.aclose()


class RawConnection:
    """A keep-alive HTTP/1.1 connection over asyncio streams, one request at a time."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = insecure_tls() if parts.scheme == "https" else None
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        self.request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
        reader, writer = self.streams
        try:
            writer.write(self.request)
            return await read_response(reader)
        except BaseException:
            self.close()  # the connection's state is unknown: start afresh next time
            raise

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def read_response(reader: asyncio.StreamReader) -> int:
    """Status of a Content-Length response, its body read and dropped (nginx sends no chunks)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def insecure_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def raw_peer(url: str, workers: int, seconds: float) -> Tally:
    connections = [RawConnection(url) for _ in range(workers)]
    try:
        return await drive([connection.send for connection in connections], seconds)
    finally:
        for connection in connections:
            connection.close()


async def aioquic_peer(url: str, workers: int, seconds: float) -> Tally:
    """The loop aioquic's examples write: one QUIC connection, a future per stream."""
    from aioquic.asyncio.client import connect
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.h3.connection import H3_ALPN, H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived
    from aioquic.quic.configuration import QuicConfiguration

    parts = urlsplit(url)
    path = (parts.path or "/").encode() + (b"?" + parts.query.encode() if parts.query else b"")
    authority = parts.netloc.encode()

    class Client(QuicConnectionProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.h3 = H3Connection(self._quic)
            self.waiters: dict[int, asyncio.Future[int]] = {}
            self.status: dict[int, int] = {}

        def quic_event_received(self, event: Any) -> None:
            for h3_event in self.h3.handle_event(event):
                stream_id = h3_event.stream_id
                if isinstance(h3_event, HeadersReceived):
                    self.status[stream_id] = int(dict(h3_event.headers)[b":status"])
                if isinstance(h3_event, HeadersReceived | DataReceived) and h3_event.stream_ended:
                    self.waiters.pop(stream_id).set_result(self.status.pop(stream_id, 0))

        async def get(self) -> int:
            stream_id = self._quic.get_next_available_stream_id()
            headers = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", authority)]
            self.h3.send_headers(stream_id, [*headers, (b":path", path)], end_stream=True)
            waiter = self.waiters[stream_id] = asyncio.get_running_loop().create_future()
            self.transmit()
            return await waiter

    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    configuration.verify_mode = ssl.CERT_NONE
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    async with connect(host, port, configuration=configuration, create_protocol=Client) as client:
        assert isinstance(client, Client)
        return await drive([client.get] * workers, seconds)


LOCUSTFILE = """\
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class Get(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("PATH")
"""


def locust_peer(url: str, workers: int, seconds: float) -> Tally:
    """Locust's FastHttpUser (gevent + geventhttpclient) headless in one process: its own
    request count over its time limit (spawning included: when it sends little, its own span
    from first to last request says nothing), its CPU time as a child of this one."""
    parts = urlsplit(url)
    run_time = max(1, round(seconds))
    with tempfile.TemporaryDirectory() as folder:
        locustfile = Path(folder) / "locustfile.py"
        locustfile.write_text(LOCUSTFILE.replace("PATH", parts.path or "/"))
        cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            locust_command(locustfile, f"{parts.scheme}://{parts.netloc}", workers, run_time),
            capture_output=True,
            text=True,
            timeout=run_time + 60,
        )
        cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
    if done.returncode not in (0, 1):  # 1: some requests failed, still a measurement
        raise SystemExit(f"locust exited {done.returncode}: {done.stderr[-500:]}")
    entries = json.loads(done.stdout)
    if not entries:  # its users spawned too late to send anything before its time limit
        return Tally(errors=Counter({"locust sent nothing": 1}), seconds=run_time, cpu_s=cpu)
    failed = int(entries[0]["num_failures"])
    return Tally(
        ok=int(entries[0]["num_requests"]) - failed,
        errors=Counter({"locust failure": failed}) if failed else Counter[str](),
        seconds=run_time,
        cpu_s=cpu,
    )


def locust_command(locustfile: Path, host: str, users: int, run_time: int) -> list[str]:
    locust = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))
    spawn = ["-u", str(users), "-r", str(users)]  # all users in the first second
    limits = ["-t", f"{run_time}s", "--host", host]
    return [
        locust,
        "-f",
        str(locustfile),
        "--headless",
        *spawn,
        *limits,
        "--only-summary",
        "--json",
    ]


def run(peer: str, url: str, workers: int, seconds: float) -> Tally:
    if peer == "locust":
        return locust_peer(url, workers, seconds)
    loops: dict[str, Callable[[], Awaitable[Tally]]] = {
        "aiohttp": lambda: aiohttp_peer(url, workers, seconds),
        "httpx-shared": lambda: httpx_peer(url, workers, seconds, 1, http2=False),
        "httpx-per-worker": lambda: httpx_peer(url, workers, seconds, workers, http2=False),
        "httpx-h2": lambda: httpx_peer(url, workers, seconds, 1, http2=True),
        "raw": lambda: raw_peer(url, workers, seconds),
        "aioquic-h3": lambda: aioquic_peer(url, workers, seconds),
    }
    if peer == "raw-uvloop":  # the raw loop on uvloop, loadscope's default event loop
        import uvloop

        return uvloop.run(asyncio.wait_for(raw_peer(url, workers, seconds), timeout=seconds + 30))
    return asyncio.run(asyncio.wait_for(loops[peer](), timeout=seconds + 30))


PEERS = [
    "aiohttp",
    "httpx-shared",
    "httpx-per-worker",
    "httpx-h2",
    "raw",
    "raw-uvloop",
    "locust",
    "aioquic-h3",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="\n\n".join((__doc__ or "").split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("peer", choices=PEERS)
    parser.add_argument("--url", default="http://127.0.0.1:18080/")
    parser.add_argument("-c", type=int, default=50, help="concurrent workers (default 50)")
    parser.add_argument("-d", type=float, default=5.0, help="seconds of load (at most 60)")
    args = parser.parse_args()
    if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("peers.py loads loopback only")
    seconds = min(args.d, MAX_SECONDS)
    tally = run(args.peer, args.url, args.c, seconds)
    requests = tally.requests
    result = {
        "peer": args.peer,
        "url": args.url,
        "concurrency": args.c,
        "requests": requests,
        "ok": tally.ok,
        "errors": dict(tally.errors),
        "seconds": round(tally.seconds, 3),
        "cpu_s": round(tally.cpu_s, 3),
        "rps": round(tally.ok / tally.seconds, 1) if tally.seconds else 0.0,
        "cpu_ms_per_request": round(1000 * tally.cpu_s / requests, 4) if requests else None,
        "python": sys.version.split()[0],
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
