#!/usr/bin/env python3
"""HTTP/2 throughput, A/B: this checkout's loadscope against another install of it (a baseline
commit in its own venv), one connection, many streams, over h2c and over TLS, in the same run.

    git worktree add /tmp/loadscope-base d31d7c1
    python3 -m venv /tmp/loadscope-base/.venv
    /tmp/loadscope-base/.venv/bin/pip install -e /tmp/loadscope-base
    bash bench/nginx.sh start
    python bench/bench_h2.py --base-python /tmp/loadscope-base/.venv/bin/python \\
        --rounds 5 --duration 5 [--write bench/RESULTS.md]

Rounds alternate the order of the runs so machine noise hits both alike; the table shows medians
and the ratio of this checkout to the baseline. Each load is bounded (`--duration`, at most 60 s)
and targets nginx on loopback only. The generator is pinned to BENCH_CPU (default 0).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from results import replace_section
from target import H1_URL, H2C_URL, TLS_URL, pinned, require_nginx

HERE = Path(__file__).resolve().parent
Measurement = dict[str, Any]
MODES = {"h2c": (H2C_URL, ["--http2"]), "TLS": (TLS_URL, ["--http2", "--insecure"])}
H1_MODE = ("HTTP/1.1", (H1_URL, ["--http1"]))  # --h1: this checkout's own HTTP/1.1 yardstick


def run_loadscope(python: str, url: str, flags: list[str], c: int, d: float) -> Measurement:
    command = [python, "-m", "loadscope", "run", url, "-c", str(c), "-d", f"{d:g}s"]
    command += ["--format", "json", "--quiet", *flags]
    out = subprocess.run(
        pinned(command), capture_output=True, text=True, timeout=d + 60, cwd=HERE.parent
    )
    if out.returncode != 0:
        raise SystemExit(f"{python}: loadscope failed ({out.returncode}): {out.stderr.strip()}")
    report = json.loads(out.stdout)
    return {
        "rps": report["requests_per_second"],
        "errors": report["errors_total"],
        # loadscope's own count: nginx's accept counter also sees other clients of a shared nginx
        "connections": report["connections_opened"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--base-python", required=True, help="python of the baseline's venv")
    parser.add_argument("--base-label", default="baseline")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("-c", type=int, default=50, help="streams (VUs) on the one connection")
    parser.add_argument("--write", metavar="FILE", help="replace the h2 section of this file")
    parser.add_argument(
        "--h1", action="store_true", help="also run this checkout over HTTP/1.1, c connections"
    )
    args = parser.parse_args()
    duration = min(args.duration, 60.0)
    require_nginx()
    load = os.getloadavg()[0]
    pythons = {"this checkout": sys.executable, args.base_label: args.base_python}
    results: dict[tuple[str, str], list[Measurement]] = {}
    modes = dict([*MODES.items(), H1_MODE]) if args.h1 else MODES
    for round_index in range(args.rounds):
        order = list(pythons) if round_index % 2 == 0 else list(reversed(pythons))
        for mode, (url, flags) in modes.items():
            for who in order if mode in MODES else ["this checkout"]:
                row = run_loadscope(pythons[who], url, flags, args.c, duration)
                results.setdefault((mode, who), []).append(row)
                print(f"round {round_index + 1} {mode} {who}: {row}", file=sys.stderr)
                time.sleep(0.5)
    table = markdown(results, args, load)
    print(table)
    if args.write:
        replace_section(Path(args.write), "h2", table)


def markdown(
    results: dict[tuple[str, str], list[Measurement]], args: argparse.Namespace, load: float
) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC with `python bench/bench_h2.py "
        f"--base-python BASE/.venv/bin/python --base-label {shlex.quote(args.base_label)} --rounds "
        f"{args.rounds} --duration {args.duration:g}{' --h1' if args.h1 else ''}`: "
        f"{os.cpu_count()} cores, generator pinned "
        f"(`taskset -c {os.environ.get('BENCH_CPU', '0')}`), nginx on the other core; "
        f"`loadscope run URL --http2 -c {args.c}` (one connection, {args.c} streams, GET, all "
        f"metrics on), {args.duration:g} s per run, {args.rounds} alternating rounds, medians "
        f"(range). Load average {load:.1f} at the start: absolute numbers vary with the "
        "machine's other load, the ratio is what to read.",
        "",
        f"| transport | this checkout req/s | {args.base_label} req/s | ratio | errors | "
        "connections per run |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        mine, base = results[(mode, "this checkout")], results[(mode, args.base_label)]
        ours, theirs = _median(mine), _median(base)
        errors = sum(r["errors"] for r in mine + base)
        conns = sorted({r["connections"] for r in mine + base}, key=str)
        lines.append(
            f"| {mode} | {ours:,.0f} ({_range(mine)}) | {theirs:,.0f} ({_range(base)}) | "
            f"**{ours / theirs:.2f}×** | {errors} | {', '.join(map(str, conns))} |"
        )
    h1 = results.get((H1_MODE[0], "this checkout"))
    if h1:
        own = _median(h1)
        shares = ", ".join(
            f"{mode} {_median(results[(mode, 'this checkout')]) / own:.2f}×" for mode in MODES
        )
        lines += [
            "",
            f"This checkout over HTTP/1.1, c={args.c} connections, same rounds: {own:,.0f} req/s "
            f"({_range(h1)}); HTTP/2 on one connection against it: {shares}.",
        ]
    return "\n".join(lines)


def _median(rows: list[Measurement]) -> float:
    return float(statistics.median(r["rps"] for r in rows))


def _range(rows: list[Measurement]) -> str:
    return f"{min(r['rps'] for r in rows):,.0f}–{max(r['rps'] for r in rows):,.0f}"


if __name__ == "__main__":
    main()
