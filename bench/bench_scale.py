#!/usr/bin/env python3
"""HTTP/1.1 at many virtual users against loadscope's own c=50 (issue 20, target 2).

Runs `loadscope run URL --http1 -c N` for each concurrency, rounds alternating so the machine's
noise hits all alike, and gives per level: req/s and its per-round ratio to c=50 of the same
round, the worst event-loop lag, errors, connections opened (the report's and nginx's accept
counter), the process's max RSS and the generator's CPU µs per request.

    bash bench/nginx.sh start
    python bench/bench_scale.py --rounds 3 --duration 10 [--levels 10000,1000,50] \
        [--python OTHER/.venv/bin/python] [--write bench/RESULTS.md]

`--python` runs another install instead of this one (for before/after). Every load is bounded
(`--duration`, at most 60 s) and goes to the loopback nginx target.
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
from dataclasses import dataclass
from pathlib import Path

from results import replace_section
from target import H1_URL, accepts_between, nginx_accepts, pinned, require_nginx

BASE_LEVEL = 50


@dataclass
class Run:
    rps: float
    lag_ms: float
    errors: int
    opened: int
    accepted: int | None
    rss_mb: float
    cpu_us: float


def run(python: str, level: int, duration: float) -> Run:
    command = [python, "-m", "loadscope", "run", H1_URL, "--http1", "-c", str(level)]
    command += ["-d", f"{duration}s", "--format", "json", "--quiet"]
    before = nginx_accepts()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(pinned(command), stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own max RSS
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    after = nginx_accepts()
    if process.returncode != 0:
        raise SystemExit(f"c={level}: exit {process.returncode}")
    report = json.loads(text)
    generator = report["generator"]
    return Run(
        rps=float(report["requests_per_second"]),
        lag_ms=float(generator["loop_lag_ms"]),
        errors=int(report["errors_total"]),
        opened=int(report["connections_opened"]),
        accepted=accepts_between(before, after),
        rss_mb=usage.ru_maxrss / 1024,
        cpu_us=1e6 * generator["cpu_seconds"] / max(report["requests_total"], 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--levels", default="10000,1000,50", help="concurrencies, comma-separated")
    parser.add_argument("--python", default=sys.executable, help="the install to run")
    parser.add_argument("--write", metavar="FILE", help="replace the scale section of this file")
    args = parser.parse_args()
    duration = min(args.duration, 60.0)
    levels = [int(level) for level in args.levels.split(",")]
    if BASE_LEVEL not in levels:
        levels.append(BASE_LEVEL)
    require_nginx()
    load_average = os.getloadavg()[0]
    runs: dict[int, list[Run]] = {level: [] for level in levels}
    for round_index in range(args.rounds):
        order = levels if round_index % 2 == 0 else levels[::-1]
        for level in order:
            result = run(args.python, level, duration)
            runs[level].append(result)
            print(f"round {round_index + 1} c={level}: {result}", file=sys.stderr)
            time.sleep(0.5)
    table = markdown(runs, args, load_average)
    print(table)
    if args.write:
        replace_section(Path(args.write), "scale", table)


def markdown(runs: dict[int, list[Run]], args: argparse.Namespace, load_average: float) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC with `python bench/bench_scale.py "
        f"--rounds {args.rounds} --duration {args.duration:g} --levels {args.levels}`: HTTP/1.1 "
        f"GET on nginx, the client pinned to one core; {os.cpu_count()} cores, load average "
        f"{load_average:.1f} at the start; alternating rounds, medians (worst lag: the largest).",
        "",
        "| VUs | req/s | × c=50 (per-round median) | per-round ratios | worst loop lag ms "
        "| errors | opened (report / nginx) | max RSS MB | CPU µs/req |",
        "|---:|---:|---:|---|---:|---:|---|---:|---:|",
    ]
    base = runs[BASE_LEVEL]
    for level, level_runs in runs.items():
        ratios = [r.rps / b.rps for r, b in zip(level_runs, base, strict=True) if b.rps]
        opened = ", ".join(f"{r.opened}/{r.accepted}" for r in level_runs)
        lines.append(
            f"| {level:,} | {statistics.median(r.rps for r in level_runs):,.0f} | "
            f"{statistics.median(ratios):.2f} | {', '.join(f'{x:.2f}' for x in ratios)} | "
            f"{max(r.lag_ms for r in level_runs):.0f} | {sum(r.errors for r in level_runs)} | "
            f"{opened} | {max(r.rss_mb for r in level_runs):.0f} | "
            f"{statistics.median(r.cpu_us for r in level_runs):.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
