#!/usr/bin/env python3
"""Engine throughput against its peers, in the same run, on the same pinned core.

Runs `loadscope run` and the reference loops of ../shared/bench/peers.py (aiohttp, httpx-shared,
httpx-per-worker, raw) against the nginx target of ../shared/bench/nginx-target.sh, alternating
rounds so machine noise hits everyone alike, and prints medians and ratios as Markdown.

    bash ../shared/bench/nginx-target.sh start
    python bench/bench_engine.py --rounds 3 --duration 5 [--write bench/RESULTS.md]

Each load is bounded (`--duration` seconds, at most 60) and targets loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = (HERE / "../../shared/bench/peers.py").resolve()
STUB = "http://127.0.0.1:18090/"
H1 = "http://127.0.0.1:18080/"
TLS = "https://127.0.0.1:18443/"


def nginx_accepts() -> int | None:
    try:
        with urllib.request.urlopen(STUB, timeout=2) as response:
            return int(response.read().decode().splitlines()[2].split()[0])
    except OSError:
        return None


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pinned(command: list[str]) -> list[str]:
    return ["taskset", "-c", os.environ.get("BENCH_CPU", "0"), *command]


def run_loadscope(url: str, c: int, d: float, extra: list[str], env: dict[str, str]) -> dict:
    command = [
        sys.executable,
        "-m",
        "loadscope",
        "run",
        url,
        "-c",
        str(c),
        "-d",
        f"{d}s",
        "--format",
        "json",
        "--quiet",
        *extra,
    ]
    before_accepts, before_cpu = nginx_accepts(), children_cpu()
    out = subprocess.run(
        pinned(command),
        capture_output=True,
        text=True,
        timeout=d + 60,
        env={**os.environ, **env},
        cwd=HERE.parent,
    )
    cpu = children_cpu() - before_cpu
    after_accepts = nginx_accepts()
    if out.returncode != 0:
        raise SystemExit(f"loadscope failed ({out.returncode}): {out.stderr.strip()}")
    report = json.loads(out.stdout)
    total = report["requests_total"]
    return {
        "rps": report["requests_per_second"],
        "errors": report["errors_total"],
        "cpu_ms_per_request": round(1000 * cpu / total, 4) if total else None,
        "connections_opened": report["connections_opened"],
        # minus one: the stub_status query that read `after_accepts` is itself a connection
        "nginx_accepts": (after_accepts - before_accepts - 1)
        if None not in (before_accepts, after_accepts)
        else None,
    }


def run_peer(mode: str, url: str, c: int, d: float) -> dict:
    command = [sys.executable, str(PEERS), mode, "--url", url, "-c", str(c), "-d", str(d)]
    out = subprocess.run(pinned(command), capture_output=True, text=True, timeout=d + 90)
    if out.returncode != 0:
        raise SystemExit(f"peer {mode} failed: {out.stderr.strip()[-500:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "rps": result["rps"],
        "errors": sum(result["errors"].values()),
        "cpu_ms_per_request": result["cpu_ms_per_request"],
        "connections_opened": result["connections_opened"],
        "nginx_accepts": result["connections_opened"],
    }


LOCUSTFILE = """
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class Peer(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
"""


def run_locust(url: str, c: int, d: float) -> dict:
    """Locust's FastHttpUser (gevent + geventhttpclient), headless, one process."""
    import shutil
    import tempfile

    locust = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "locustfile.py"
        script.write_text(LOCUSTFILE)
        command = [
            locust,
            "-f",
            str(script),
            "--headless",
            "-u",
            str(c),
            "-r",
            str(c),
            "-t",
            f"{int(d)}s",
            "--host",
            url.rstrip("/"),
            "--only-summary",
            "--json",
        ]
        before_accepts, before_cpu = nginx_accepts(), children_cpu()
        out = subprocess.run(pinned(command), capture_output=True, text=True, timeout=d + 60)
        cpu = children_cpu() - before_cpu
        after_accepts = nginx_accepts()
    if out.returncode not in (0, 1):
        raise SystemExit(f"locust failed: {out.stderr[-500:]}")
    stats = json.loads(out.stdout)[0]
    total = stats["num_requests"]
    wall = stats["last_request_timestamp"] - stats["start_time"]
    return {
        "rps": round(total / wall, 1),
        "errors": stats["num_failures"],
        "cpu_ms_per_request": round(1000 * cpu / total, 4) if total else None,
        "connections_opened": None,
        "nginx_accepts": (after_accepts - before_accepts - 1)
        if None not in (before_accepts, after_accepts)
        else None,
    }


def contenders(c: int, d: float, include_h2: bool) -> dict[str, callable]:
    runs = {
        "loadscope (uvloop)": lambda: run_loadscope(H1, c, d, ["--http1"], {}),
        "loadscope (asyncio loop)": lambda: run_loadscope(
            H1, c, d, ["--http1"], {"LOADSCOPE_LOOP": "asyncio"}
        ),
        "aiohttp": lambda: run_peer("aiohttp", H1, c, d),
        "httpx-shared": lambda: run_peer("httpx-shared", H1, c, d),
        "httpx-per-worker": lambda: run_peer("httpx-per-worker", H1, c, d),
        "raw asyncio streams": lambda: run_peer("raw", H1, c, d),
    }
    if shutil.which("locust") or Path(sys.executable).with_name("locust").exists():
        runs["Locust FastHttpUser"] = lambda: run_locust(H1, c, d)
    if include_h2:
        runs["loadscope h2 over TLS (1 conn)"] = lambda: run_loadscope(
            TLS, c, d, ["--http2", "--insecure"], {}
        )
        runs["httpx-h2 over TLS"] = lambda: run_peer("httpx-h2", TLS, c, d)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("--no-h2", action="store_true")
    parser.add_argument("--write", metavar="FILE", help="replace the engine section of this file")
    args = parser.parse_args()
    duration = min(args.duration, 60.0)
    if nginx_accepts() is None:
        raise SystemExit("start the target first: bash ../shared/bench/nginx-target.sh start")
    runs = contenders(args.c, duration, not args.no_h2)
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for round_index in range(args.rounds):
        order = list(runs) if round_index % 2 == 0 else list(reversed(runs))
        for name in order:
            results[name].append(runs[name]())
            print(f"round {round_index + 1} {name}: {results[name][-1]}", file=sys.stderr)
            time.sleep(0.5)
    table = markdown(results, args)
    print(table)
    if args.write:
        replace_section(Path(args.write), "engine", table)


def markdown(results: dict[str, list[dict]], args: argparse.Namespace) -> str:
    med = {name: statistics.median(r["rps"] for r in rows) for name, rows in results.items()}
    base = {k: med[k] for k in ("aiohttp", "httpx-shared") if k in med}
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, generator pinned to one "
        f"core (`taskset -c 0`), nginx on the other; c={args.c}, GET, {args.duration:g} s per "
        f"run, {args.rounds} alternating rounds, medians. Python {sys.version.split()[0]}.",
        "",
        "| client | req/s (median) | × httpx-shared | × aiohttp | CPU ms/request | "
        "connections opened |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        cpu = statistics.median(r["cpu_ms_per_request"] or 0 for r in rows)
        opened = rows[-1]["nginx_accepts"]
        lines.append(
            f"| {name} | {med[name]:,.0f} | {med[name] / base['httpx-shared']:.1f}× | "
            f"{med[name] / base['aiohttp']:.2f}× | {cpu:.4f} | {opened} |"
        )
    return "\n".join(lines)


def replace_section(path: Path, name: str, body: str) -> None:
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = path.read_text() if path.exists() else ""
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
