#!/usr/bin/env python3
"""The churn demo's phase table, measured: `loadscope demo churn --headless` (the built-in target
over TLS; examples/churn.yml's phases shared → per-iteration → shared, 20 s each, 20 VUs).

    python bench/bench_churn.py [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import replace_section

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", type=int, default=20)
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "churn.json"
        command = [
            sys.executable,
            "-m",
            "loadscope",
            "demo",
            "churn",
            "--headless",
            "-c",
            str(args.c),
            "--format",
            "json",
            "--summary-json",
            str(out),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=HERE.parent)
        if done.returncode != 0:
            raise SystemExit(f"demo churn failed ({done.returncode}): {done.stderr[-500:]}")
        report = json.loads(out.read_text())
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')}: `loadscope demo churn --headless -c {args.c}` "
        "(built-in target over TLS, HTTP/2 by ALPN, 3 s warm-up).",
        "",
        "| phase | reuse | req/s | p50 | p99 | opened/s | TIME_WAIT added (peak) | CPU per request "
        "| errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for index, phase in enumerate(report["phases"], 1):
        lines.append(
            f"| {index} ({phase['started_s']:.0f}–{phase['started_s'] + phase['duration_s']:.0f} s)"
            f" | {phase['reuse_mode']} | {phase['rps']:,.0f} | {phase['p50_ms']:.2f} ms | "
            f"{phase['p99_ms']:.2f} ms | {phase['opened_per_s']:,.1f} | "
            f"+{phase['time_wait_rise']:,} ({phase['time_wait_peak']:,}) | "
            f"{phase['cpu_ms_per_request']:.3f} ms | "
            f"{phase['errors']:,} |"
        )
    kinds = ", ".join(f"`{w['kind']}`" for w in report["warnings"]) or "none"
    lines += ["", f"Detectors that fired: {kinds}."]
    table = "\n".join(lines)
    print(table)
    if args.write:
        replace_section(Path(args.write), "churn", table)


if __name__ == "__main__":
    main()
