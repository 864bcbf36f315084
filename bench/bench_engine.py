#!/usr/bin/env python3
"""Engine throughput against its peers, in the same run, on the same pinned core.

Runs `loadscope run` and the peers of bench/peers.py (aiohttp, httpx-shared, httpx-per-worker,
raw asyncio streams, Locust's FastHttpUser, httpx over HTTP/2) against the nginx target of
bench/nginx.sh, alternating rounds so machine noise hits everyone alike, and prints medians and
ratios as Markdown. Connections opened are nginx's own accept counter around each run.

    bash bench/nginx.sh start
    python bench/bench_engine.py --rounds 3 --duration 5 [--write bench/RESULTS.md]

Each load is bounded (`--duration` seconds, at most 60) and targets loopback only. Give it at
least 5 s: Locust spends its first second or two spawning users.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from results import replace_section
from target import H1_URL, TLS_URL, accepts_between, nginx_accepts, pinned, require_nginx

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers.py"
Measurement = dict[str, Any]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_loadscope(url: str, c: int, d: float, extra: list[str], env: dict[str, str]) -> Measurement:
    command = [sys.executable, "-m", "loadscope", "run", url, "-c", str(c), "-d", f"{d}s"]
    command += ["--format", "json", "--quiet", *extra]
    before_accepts, before_cpu = nginx_accepts(), children_cpu()
    out = subprocess.run(
        pinned(command),
        capture_output=True,
        text=True,
        timeout=d + 60,
        env={**os.environ, **env},
        cwd=HERE.parent,
    )
    cpu = children_cpu() - before_cpu  # the whole process, start-up included
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
        "nginx_accepts": accepts_between(before_accepts, after_accepts),
    }


def run_peer(peer: str, url: str, c: int, d: float) -> Measurement:
    """One bench/peers.py loop (its CPU is the loop's own, start-up excluded)."""
    command = [sys.executable, str(PEERS), peer, "--url", url, "-c", str(c), "-d", str(d)]
    before_accepts = nginx_accepts()
    out = subprocess.run(pinned(command), capture_output=True, text=True, timeout=d + 120)
    after_accepts = nginx_accepts()
    if out.returncode != 0:
        raise SystemExit(f"peer {peer} failed: {out.stderr.strip()[-500:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    opened = accepts_between(before_accepts, after_accepts)
    return {
        "rps": result["rps"],
        "errors": sum(result["errors"].values()),
        "cpu_ms_per_request": result["cpu_ms_per_request"],
        "connections_opened": opened,
        "nginx_accepts": opened,
    }


def locust_installed() -> bool:
    return Path(sys.executable).with_name("locust").exists() or shutil.which("locust") is not None


def contenders(c: int, d: float, include_h2: bool) -> dict[str, Callable[[], Measurement]]:
    runs: dict[str, Callable[[], Measurement]] = {
        "loadscope (uvloop)": lambda: run_loadscope(H1_URL, c, d, ["--http1"], {}),
        "loadscope (asyncio loop)": lambda: run_loadscope(
            H1_URL, c, d, ["--http1"], {"LOADSCOPE_LOOP": "asyncio"}
        ),
        "aiohttp": lambda: run_peer("aiohttp", H1_URL, c, d),
        "httpx-shared": lambda: run_peer("httpx-shared", H1_URL, c, d),
        "httpx-per-worker": lambda: run_peer("httpx-per-worker", H1_URL, c, d),
        "raw asyncio streams": lambda: run_peer("raw", H1_URL, c, d),
        "raw streams (uvloop)": lambda: run_peer("raw-uvloop", H1_URL, c, d),
    }
    if locust_installed():
        runs["Locust FastHttpUser"] = lambda: run_peer("locust", H1_URL, c, d)
    if include_h2:
        runs["loadscope h2 over TLS (1 conn)"] = lambda: run_loadscope(
            TLS_URL, c, d, ["--http2", "--insecure"], {}
        )
        runs["httpx-h2 over TLS"] = lambda: run_peer("httpx-h2", TLS_URL, c, d)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("--no-h2", action="store_true")
    parser.add_argument(
        "--only", action="append", help="run only the contenders whose name has this (repeatable)"
    )
    parser.add_argument("--write", metavar="FILE", help="replace the engine section of this file")
    args = parser.parse_args()
    duration = min(args.duration, 60.0)
    require_nginx()
    args.load_average = os.getloadavg()[0]
    runs = contenders(args.c, duration, not args.no_h2)
    if args.only:
        runs = {name: run for name, run in runs.items() if any(o in name for o in args.only)}
    results: dict[str, list[Measurement]] = {name: [] for name in runs}
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


def same_loop_raw(name: str) -> str:
    """The raw loop on the event loop `name` runs on (issue 20's like-for-like ratio)."""
    if name.startswith("loadscope (uvloop)"):
        return "raw streams (uvloop)"
    if name.startswith("loadscope (asyncio loop)"):
        return "raw asyncio streams"
    return ""


def markdown(results: dict[str, list[Measurement]], args: argparse.Namespace) -> str:
    med = {name: statistics.median(r["rps"] for r in rows) for name, rows in results.items()}
    peers = ("aiohttp", "httpx-shared", "raw asyncio streams", "raw streams (uvloop)")
    base = {k: med[k] for k in peers if k in med}

    def times(name: str, peer: str, digits: int) -> str:
        return f"{med[name] / base[peer]:.{digits}f}×" if peer in base else "–"

    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC with `python bench/bench_engine.py "
        f"--rounds {args.rounds} --duration {args.duration:g}`: {os.cpu_count()} cores, "
        f"generator pinned to one core (`taskset -c {os.environ.get('BENCH_CPU', '0')}`), nginx "
        f"(`bench/nginx.sh`) on the other; c={args.c}, GET, {args.duration:g} s per run, "
        f"{args.rounds} alternating rounds, medians (range: slowest–fastest run). Python "
        f"{sys.version.split()[0]}; load average {args.load_average:.1f} at the start.",
        "",
        "| client | req/s (median) | range | × httpx-shared | × aiohttp | × raw asyncio | "
        "CPU ms/request | connections opened | × raw, same event loop |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        cpu = statistics.median(r["cpu_ms_per_request"] or 0 for r in rows)
        opened = rows[-1]["nginx_accepts"]
        low, high = min(r["rps"] for r in rows), max(r["rps"] for r in rows)
        lines.append(
            f"| {name} | {med[name]:,.0f} | {low:,.0f}–{high:,.0f} | "
            f"{times(name, 'httpx-shared', 1)} | {times(name, 'aiohttp', 2)} | "
            f"{times(name, 'raw asyncio streams', 2)} | {cpu:.4f} | {opened} | "
            f"{times(name, same_loop_raw(name), 2)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
