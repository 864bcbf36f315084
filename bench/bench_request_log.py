#!/usr/bin/env python3
"""What `--log-requests FILE.sqlite` costs: `loadscope run` at c=50 with and without the log,
alternating rounds in the same run, medians and their ratio as Markdown. The target is the
nginx of bench/nginx.sh (loopback); each load is bounded by `--duration`.

    bash bench/nginx.sh start
    python bench/bench_request_log.py --rounds 5 --duration 5 [--write bench/RESULTS.md]

It also checks that the log holds one row per request the report counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from results import replace_section
from target import H1_URL, pinned, require_nginx

HERE = Path(__file__).resolve().parent


def run(concurrency: int, seconds: float, log: Path | None) -> float:
    command = [sys.executable, "-m", "loadscope", "run", H1_URL, "-c", str(concurrency)]
    command += ["-d", f"{seconds}s", "--format", "json", "--quiet"]
    if log is not None:
        command += ["--log-requests", str(log)]
    done = subprocess.run(
        pinned(command), capture_output=True, text=True, timeout=seconds + 60, cwd=HERE.parent,
        env=os.environ.copy(),
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"loadscope failed ({done.returncode}): {done.stderr.strip()}")
    report = json.loads(done.stdout)
    if log is not None:
        with sqlite3.connect(log) as db:
            rows = db.execute("SELECT count(*) FROM requests").fetchone()[0]
        if rows != report["requests_total"]:
            raise SystemExit(f"the log has {rows} rows for {report['requests_total']} requests")
    return float(report["requests_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    require_nginx()
    duration = min(max(args.duration, 1.0), 60.0)
    plain: list[float] = []
    logged: list[float] = []
    with tempfile.TemporaryDirectory(prefix="loadscope-bench-") as directory:
        log = Path(directory) / "requests.sqlite"
        for round_ in range(args.rounds):
            first_plain = round_ % 2 == 0  # alternate who goes first
            for with_log in (False, True) if first_plain else (True, False):
                rps = run(args.concurrency, duration, log if with_log else None)
                (logged if with_log else plain).append(rps)
                print(f"round {round_ + 1}: {'log ' if with_log else 'none'} {rps:,.0f} req/s",
                      file=sys.stderr)  # fmt: skip
    ratios = [b / a for a, b in zip(plain, logged, strict=True)]
    median_plain, median_logged = statistics.median(plain), statistics.median(logged)
    body = "\n".join([
        f"`python bench/bench_request_log.py --rounds {args.rounds} --duration {duration:g}` "
        f"(c={args.concurrency}, nginx on loopback, alternating rounds; absolute req/s are "
        "meaningless on this shared 2-core machine, only the ratio counts)",
        "",
        "| run | median req/s | rounds |",
        "|---|---:|---|",
        f"| no log | {median_plain:,.0f} | {', '.join(f'{r:,.0f}' for r in plain)} |",
        f"| --log-requests | {median_logged:,.0f} | {', '.join(f'{r:,.0f}' for r in logged)} |",
        "",
        f"Throughput with the log: **{median_logged / median_plain:.1%}** of without "
        f"(median of per-round ratios {statistics.median(ratios):.1%}; budget ≥ 85%).",
    ])  # fmt: skip
    print(body)
    if args.write is not None:
        replace_section(args.write, "request-log", body)


if __name__ == "__main__":
    main()
