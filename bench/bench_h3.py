#!/usr/bin/env python3
"""HTTP/3: loadscope against aioquic's own client loop (bench/peers.py aioquic-h3), one QUIC
connection carrying c streams, in the same run, alternating rounds, medians.

Both load the built-in target's HTTP/3 listener (aioquic on the server side too), started here in
its own process on the other core. Its Python QUIC stack can be what limits the rate, so the
table gives the client's own CPU per request beside req/s: that ratio is the generator's cost,
whatever the server could take. Counts are the target's own QUIC counters.

    python bench/bench_h3.py --rounds 3 --duration 5 [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from results import replace_section
from target import pinned

from loadscope.engine.target import TargetOptions, TargetProcess

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers.py"
Measurement = dict[str, Any]


def run_loadscope(target: TargetProcess, url: str, c: int, d: float) -> Measurement:
    command = [sys.executable, "-m", "loadscope", "run", url, "-c", str(c), "-d", f"{d}s"]
    command += ["--http3", "--insecure", "--format", "json", "--quiet"]
    before = target.accepted("http3")
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
        "quic_connections": target.accepted("http3") - before,
    }


def run_peer(target: TargetProcess, url: str, c: int, d: float) -> Measurement:
    command = [sys.executable, str(PEERS), "aioquic-h3", "--url", url, "-c", str(c), "-d", str(d)]
    before = target.accepted("http3")
    out = subprocess.run(pinned(command), capture_output=True, text=True, timeout=d + 60)
    if out.returncode != 0:
        raise SystemExit(f"the aioquic peer failed: {out.stderr.strip()[-500:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "rps": result["rps"],
        "errors": sum(result["errors"].values()),
        "cpu_ms_per_request": result["cpu_ms_per_request"],
        "quic_connections": target.accepted("http3") - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("--write", metavar="FILE", help="replace the http3 section of this file")
    args = parser.parse_args()
    duration = min(args.duration, 60.0)
    load_average = os.getloadavg()[0]
    with TargetProcess(TargetOptions(tls=True, http3_port=0)) as target:
        url = f"{target.http3_url}/"
        runs: dict[str, Callable[[], Measurement]] = {
            "loadscope --http3": lambda: run_loadscope(target, url, args.c, duration),
            "aioquic client loop": lambda: run_peer(target, url, args.c, duration),
        }
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
        replace_section(Path(args.write), "http3", table)


def markdown(results: dict[str, list[Measurement]], args: argparse.Namespace, load: float) -> str:
    rps = {name: statistics.median(r["rps"] for r in rows) for name, rows in results.items()}
    cpu = {
        name: statistics.median(r["cpu_ms_per_request"] or 0 for r in rows)
        for name, rows in results.items()
    }
    peer = "aioquic client loop"
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC with `python bench/bench_h3.py "
        f"--rounds {args.rounds} --duration {args.duration:g}`: c={args.c} streams on one QUIC "
        f"connection, GET /, the built-in target's HTTP/3 listener; {args.rounds} alternating "
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
