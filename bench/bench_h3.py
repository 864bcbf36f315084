#!/usr/bin/env python3
"""HTTP/3: loadscope against aioquic's own client loop (bench/peers.py aioquic-h3), one QUIC
connection carrying c streams, in the same run, alternating rounds, medians.

Both load one server, on the other core. `--server builtin` (the default): the built-in target's
HTTP/3 listener (aioquic on the server side too), started here in its own process; its Python
QUIC stack can be what limits the rate. `--server caddy`: Caddy (Go, quic-go) from
bench/caddy.sh, which takes more than either client sends; start it first
(`bash bench/caddy.sh start`). The table gives the client's own CPU per request beside req/s:
that ratio is the generator's cost, whatever the server could take. QUIC connections are the
built-in target's own counters; Caddy has none, so there loadscope's report counts them and the
loop opens one by construction. `--base PYTHON` adds the loadscope of another install (main's,
for an A/B) as a third client.

    python bench/bench_h3.py --rounds 3 --duration 5 [--server caddy] [--base PYTHON]
        [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from results import replace_section
from target import pinned

from loadscope.engine.target import TargetOptions, TargetProcess

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers.py"
CADDY_URL = f"https://127.0.0.1:{os.environ.get('BENCH_CADDY_PORT', '18453')}/"
PEER = "aioquic client loop"
Measurement = dict[str, Any]


class Server:
    """Where the clients send, and the server's count of QUIC connections (None: it has none)."""

    def __init__(self, url: str, target: TargetProcess | None = None) -> None:
        self.url = url
        self.target = target
        self.label = "Caddy's (bench/caddy.sh)" if target is None else "the built-in target's"

    def accepted(self) -> int | None:
        return None if self.target is None else self.target.accepted("http3")


@contextmanager
def server(kind: str) -> Iterator[Server]:
    if kind == "caddy":
        require_caddy()
        yield Server(CADDY_URL)
        return
    with TargetProcess(TargetOptions(tls=True, http3_port=0)) as target:
        yield Server(f"{target.http3_url}/", target)


def require_caddy() -> None:
    probe = ["curl", "-skf", "--max-time", "2", "-o", "/dev/null", CADDY_URL]
    if subprocess.run(probe, check=False).returncode != 0:
        raise SystemExit(f"Caddy does not answer on {CADDY_URL}: bash bench/caddy.sh start")


def counted(before: int | None, after: int | None, fallback: int | None) -> int | None:
    return fallback if before is None or after is None else after - before


def run_loadscope(python: str, target: Server, c: int, d: float) -> Measurement:
    command = [python, "-m", "loadscope", "run", target.url, "-c", str(c), "-d", f"{d}s"]
    command += ["--http3", "--insecure", "--format", "json", "--quiet"]
    before = target.accepted()
    out = subprocess.run(pinned(command), capture_output=True, text=True, timeout=d + 60)
    if out.returncode != 0:
        raise SystemExit(f"loadscope failed ({out.returncode}): {out.stderr.strip()}")
    report = json.loads(out.stdout)
    total = report["requests_total"]
    cpu = report["generator"]["cpu_seconds"]  # the run's own, as the peer counts its loop's
    return {
        "rps": report["requests_per_second"],
        "errors": report["errors_total"],
        "cpu_ms_per_request": round(1000 * cpu / total, 4) if total else None,
        "quic_connections": counted(before, target.accepted(), report["connections_opened"]),
    }


def run_peer(target: Server, c: int, d: float) -> Measurement:
    url = target.url
    command = [sys.executable, str(PEERS), "aioquic-h3", "--url", url, "-c", str(c), "-d", str(d)]
    before = target.accepted()
    out = subprocess.run(pinned(command), capture_output=True, text=True, timeout=d + 60)
    if out.returncode != 0:
        raise SystemExit(f"the aioquic peer failed: {out.stderr.strip()[-500:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "rps": result["rps"],
        "errors": sum(result["errors"].values()),
        "cpu_ms_per_request": result["cpu_ms_per_request"],
        "quic_connections": counted(before, target.accepted(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("--server", choices=["builtin", "caddy"], default="builtin")
    parser.add_argument("--base", metavar="PYTHON", help="also run this install's loadscope")
    parser.add_argument(
        "--write", metavar="FILE", help="replace the http3 (or http3-caddy) section of this file"
    )
    args = parser.parse_args()
    duration = min(args.duration, 60.0)
    load_average = os.getloadavg()[0]
    with server(args.server) as target:
        args.label = target.label
        runs: dict[str, Callable[[], Measurement]] = {
            "loadscope --http3": lambda: run_loadscope(sys.executable, target, args.c, duration),
            PEER: lambda: run_peer(target, args.c, duration),
        }
        if args.base:
            base = args.base
            runs["loadscope --http3 (base)"] = lambda: run_loadscope(base, target, args.c, duration)
        results: dict[str, list[Measurement]] = {name: [] for name in runs}
        for round_index in range(args.rounds):
            order = list(runs) if round_index % 2 == 0 else list(reversed(runs))
            for name in order:
                results[name].append(runs[name]())
                print(f"round {round_index + 1} {name}: {results[name][-1]}", file=sys.stderr)
                time.sleep(0.5)
    table = markdown(results, args, load_average)
    print(table)
    if args.write:
        replace_section(
            Path(args.write), "http3" if args.server == "builtin" else "http3-caddy", table
        )


def markdown(results: dict[str, list[Measurement]], args: argparse.Namespace, load: float) -> str:
    rps = {name: statistics.median(r["rps"] for r in rows) for name, rows in results.items()}
    cpu = {
        name: statistics.median(r["cpu_ms_per_request"] or 0 for r in rows)
        for name, rows in results.items()
    }
    peer = PEER
    flags = f" --server {args.server}" if args.server != "builtin" else ""
    flags += " --base PYTHON" if args.base else ""
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC with `python bench/bench_h3.py "
        f"--rounds {args.rounds} --duration {args.duration:g}{flags}`: c={args.c} streams on one "
        f"QUIC connection, GET /, {args.label} HTTP/3 listener; {args.rounds} alternating "
        f"rounds, medians; load average {load:.1f} at the start.",
        "",
        "| client | req/s (median) | × aioquic loop | client CPU ms/request | "
        "× aioquic loop (CPU, lower is better) | QUIC connections per run |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, rows in results.items():
        lines.append(
            f"| {name} | {rps[name]:,.0f} | {rps[name] / rps[peer]:.2f}× | {cpu[name]:.4f} | "
            f"{cpu[name] / cpu[peer]:.2f}× | {rows[-1]['quic_connections']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
