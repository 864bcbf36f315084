#!/usr/bin/env python3
"""Before and after: this checkout's `loadscope run` against another install's, in one run.

The other install is a second venv (a worktree of the commit to compare against, installed with
`pip install -e .`). Rounds alternate A, B, B, A, ... so the machine's noise hits both alike; the
table gives each side's median and the median of the per-round ratios (this / base).

    git worktree add ../base COMMIT && (cd ../base && python3 -m venv .venv &&
        .venv/bin/pip install -e . --config-settings editable_mode=strict)
    bash bench/nginx.sh start
    python bench/bench_ab.py --base ../base/.venv/bin/python --rounds 5 --duration 5 \
        [--write bench/RESULTS.md]

Every load is bounded (`--duration`, at most 60 s) and goes to the loopback nginx target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from results import replace_section
from target import H1_URL, H2C_URL, TLS_URL, pinned, require_nginx

HERE = Path(__file__).resolve().parent
LOADS = {
    "HTTP/1.1, c=50": (H1_URL, ["--http1", "-c", "50"]),
    "h2c, 1 connection, 50 streams": (H2C_URL, ["--http2", "-c", "50"]),
    "HTTP/2 over TLS, 1 connection, 50 streams": (TLS_URL, ["--http2", "--insecure", "-c", "50"]),
}


def rate(python: str, url: str, flags: list[str], duration: float) -> tuple[float, float]:
    """(requests per second, the generator's CPU µs per request during the load)."""
    command = [python, "-m", "loadscope", "run", url, *flags, "-d", f"{duration}s"]
    command += ["--format", "json", "--quiet"]
    out = subprocess.run(pinned(command), capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise SystemExit(f"{python} failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    report: dict[str, Any] = json.loads(out.stdout)
    if report["errors_total"]:
        raise SystemExit(f"{python}: {report['errors_total']} errors on {url}")
    cpu = report["generator"]["cpu_seconds"]
    return float(report["requests_per_second"]), 1e6 * cpu / max(report["requests_total"], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--base", required=True, help="python of the install to compare against")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--only", action="append", help="run only loads whose name has this")
    parser.add_argument("--write", metavar="FILE", help="replace the ab section of this file")
    args = parser.parse_args()
    duration = min(args.duration, 60.0)
    require_nginx()
    load_average = os.getloadavg()[0]
    sides = {"this": sys.executable, "base": args.base}
    loads = {n: v for n, v in LOADS.items() if not args.only or any(o in n for o in args.only)}
    rows: dict[str, dict[str, list[float]]] = {n: {"this": [], "base": []} for n in loads}
    cpus: dict[str, dict[str, list[float]]] = {n: {"this": [], "base": []} for n in loads}
    for round_index in range(args.rounds):
        for name, (url, flags) in loads.items():
            order = ["this", "base"] if round_index % 2 == 0 else ["base", "this"]
            for side in order:
                rps, cpu = rate(sides[side], url, flags, duration)
                rows[name][side].append(rps)
                cpus[name][side].append(cpu)
                print(f"round {round_index + 1} {name} {side}: {rps:,.0f}/s, {cpu:.1f} µs CPU",
                      file=sys.stderr)  # fmt: skip
                time.sleep(0.3)
    table = markdown(rows, cpus, args, load_average)
    print(table)
    if args.write:
        replace_section(Path(args.write), "ab", table)


def markdown(
    rows: dict[str, dict[str, list[float]]],
    cpus: dict[str, dict[str, list[float]]],
    args: argparse.Namespace,
    load_average: float,
) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC with `python bench/bench_ab.py --base "
        f"BASE/.venv/bin/python --rounds {args.rounds} --duration {args.duration:g}`: "
        f"{os.cpu_count()} cores shared with other work (load average {load_average:.1f} at the "
        "start), the client pinned to one core, nginx on the other; alternating rounds, medians. "
        "Absolute rates on this machine mean little; the ratios are the result. CPU µs/request "
        "is the generator's own CPU time during the load (its report's `generator.cpu_seconds`) "
        "per request: the client's cost per request, which holds even while other work on the "
        "shared machine takes the core and the rates swing.",
        "",
        "| load | this req/s | base req/s | req/s this / base (per-round median) "
        "| per-round ratios | CPU µs/req this | base | CPU this / base |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for name, sides in rows.items():
        ratios = [a / b for a, b in zip(sides["this"], sides["base"], strict=True) if b]
        cpu = cpus[name]
        cpu_ratios = [a / b for a, b in zip(cpu["this"], cpu["base"], strict=True) if b]
        lines.append(
            f"| {name} | {statistics.median(sides['this']):,.0f} | "
            f"{statistics.median(sides['base']):,.0f} | {statistics.median(ratios):.3f} | "
            + ", ".join(f"{r:.2f}" for r in ratios)
            + f" | {statistics.median(cpu['this']):.1f} | {statistics.median(cpu['base']):.1f} | "
            f"{statistics.median(cpu_ratios):.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
