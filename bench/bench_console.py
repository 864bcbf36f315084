#!/usr/bin/env python3
"""What the console costs: the same load with and without the live dashboard, same run.

`loadscope run URL -c 50 -d D` (headless) against `loadscope console URL -c 50 -d D` in a
pseudo-terminal (120×40, redrawing live), both pinned to the same core so the console's drawing
competes with the engine for CPU (the worst case), alternating rounds, medians.

    bash bench/nginx.sh start
    python bench/bench_console.py --rounds 3 --duration 10 [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect
from results import replace_section
from target import H1_URL as URL
from target import require_nginx

HERE = Path(__file__).resolve().parent
CPU = os.environ.get("BENCH_CPU", "0")


def headless(c: int, d: float) -> float:
    command = [
        "taskset",
        "-c",
        CPU,
        sys.executable,
        "-m",
        "loadscope",
        "run",
        URL,
        "-c",
        str(c),
        "-d",
        f"{d}s",
        "--format",
        "json",
        "--quiet",
        "--http1",
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=d + 60, cwd=HERE.parent)
    if out.returncode:
        raise SystemExit(f"run failed: {out.stderr}")
    return float(json.loads(out.stdout)["requests_per_second"])


def with_console(c: int, d: float) -> float:
    with tempfile.TemporaryDirectory() as folder:
        summary = Path(folder) / "summary.json"
        env = {**os.environ, "TERM": "xterm-256color"}
        child = pexpect.spawn(
            "taskset",
            [
                "-c",
                CPU,
                sys.executable,
                "-m",
                "loadscope",
                "console",
                URL,
                "-c",
                str(c),
                "-d",
                f"{d}s",
                "--http1",
                "--summary-json",
                str(summary),
            ],
            cwd=str(HERE.parent),
            env=env,
            dimensions=(40, 120),
            encoding="utf-8",
            codec_errors="replace",
            timeout=d + 60,
        )
        child.expect("Run stopped")
        deadline = time.monotonic() + 10
        while not summary.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        child.send("q")
        child.expect(pexpect.EOF)
        child.close()
        return float(json.loads(summary.read_text())["requests_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    require_nginx()
    d = min(args.duration, 60.0)
    runs = {"headless run": lambda: headless(args.c, d), "console": lambda: with_console(args.c, d)}
    results: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(args.rounds):
        order = list(runs) if index % 2 == 0 else list(reversed(runs))
        for name in order:
            results[name].append(runs[name]())
            print(f"round {index + 1} {name}: {results[name][-1]:,.0f} req/s", file=sys.stderr)
    base = statistics.median(results["headless run"])
    live = statistics.median(results["console"])
    table = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')}: c={args.c}, {d:g} s per run, {args.rounds} "
            "alternating rounds, medians; engine and console pinned to the same core (`taskset -c "
            f"{CPU}`), nginx on the other, console at 120×40 in a pseudo-terminal.",
            "",
            "| mode | req/s (median) | runs | vs headless |",
            "|---|---:|---|---:|",
            f"| headless `loadscope run` | {base:,.0f} | "
            f"{', '.join(f'{r:,.0f}' for r in results['headless run'])} | 1.00× |",
            f"| `loadscope console` (live) | {live:,.0f} | "
            f"{', '.join(f'{r:,.0f}' for r in results['console'])} | {live / base:.2f}× |",
            "",
            f"Console overhead: {(1 - live / base) * 100:.1f}% of throughput "
            "(target: at most 10%).",
        ]
    )
    print(table)
    if args.write:
        replace_section(Path(args.write), "console", table)


if __name__ == "__main__":
    main()
