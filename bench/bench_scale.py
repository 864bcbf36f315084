#!/usr/bin/env python3
"""HTTP/1.1 at many VUs against few (issue 20, target 2): `loadscope run URL -c C` at c=50, 1,000
and 10,000 against nginx, alternating the order each round, generator pinned to one core.

Per run: req/s, the worst event-loop lag over the run (the report's generator.loop_lag_ms, the
connect storm at the start included), errors, connections opened (loadscope's count and nginx's
accept counter), and the process's peak RSS (from wait4). Targets: c=10,000 at ≥ 0.7× the rate
of c=50 with lag < 100 ms, zero errors, exactly 10,000 connections and RSS ≤ 300 MB; c=1,000 at
≥ 0.9× of c=50.

    bash bench/nginx.sh start
    python bench/bench_scale.py --rounds 3 --duration 10 [--write bench/RESULTS.md]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from results import replace_section
from target import H1_URL, accepts_between, nginx_accepts, pinned, require_nginx

HERE = Path(__file__).resolve().parent
LEVELS = (50, 1_000, 10_000)


def run(c: int, d: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "loadscope", "run", H1_URL, "--http1", "-c", str(c)]
    command += ["-d", f"{d}s", "--format", "json", "--quiet"]
    before = nginx_accepts()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(pinned(command), stdout=out, stderr=err, cwd=HERE.parent)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"c={c} failed ({child.returncode}): {err.read().decode()[-500:]}")
        report = json.loads(out.read())
    return {
        "rps": report["requests_per_second"],
        "lag_ms": report["generator"]["loop_lag_ms"],
        "errors": report["errors_total"],
        "opened": report["connections_opened"],
        "accepts": accepts_between(before, nginx_accepts()),
        "rss_mb": usage.ru_maxrss / 1024,  # Linux: kilobytes
    }


def measure(rounds: int, d: float) -> dict[int, list[dict[str, Any]]]:
    results: dict[int, list[dict[str, Any]]] = {c: [] for c in LEVELS}
    for index in range(rounds):
        order = LEVELS if index % 2 == 0 else tuple(reversed(LEVELS))
        for c in order:
            results[c].append(run(c, d))
            row = results[c][-1]
            print(f"round {index + 1} c={c:,}: {row}", file=sys.stderr)
    return results


def joined(runs: list[dict[str, Any]], cell: Callable[[dict[str, Any]], str]) -> str:
    return ", ".join(cell(r) for r in runs)


def table(results: dict[int, list[dict[str, Any]]], rounds: int, d: float) -> str:
    base = statistics.median(r["rps"] for r in results[LEVELS[0]])
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `python "
        f"bench/bench_scale.py --rounds {rounds} --duration {d:g}`: HTTP/1.1, GET /, nginx "
        f"(bench/nginx.sh) on one core, the generator pinned to the other; {rounds} alternating "
        f"rounds of {d:g} s, medians; load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| VUs | req/s (median) | runs | × c=50 | worst loop lag (ms) | errors | opened "
        "(loadscope / nginx) | peak RSS (MB) |",
        "|---:|---:|---|---:|---:|---:|---|---:|",
    ]
    for c, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        cells = [
            f"{c:,}",
            f"{rps:,.0f}",
            joined(runs, lambda r: f"{r['rps']:,.0f}"),
            f"{rps / base:.2f}×",
            joined(runs, lambda r: f"{r['lag_ms']:,.0f}"),
            str(sum(r["errors"] for r in runs)),
            joined(runs, lambda r: f"{r['opened']:,}/{r['accepts']:,}"),
            f"{max(r['rss_mb'] for r in runs):,.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--write", metavar="FILE", help="replace the scale section of this file")
    args = parser.parse_args()
    require_nginx()
    text = table(measure(args.rounds, args.duration), args.rounds, args.duration)
    print(text)
    if args.write:
        replace_section(Path(args.write), "scale", text)


if __name__ == "__main__":
    main()
