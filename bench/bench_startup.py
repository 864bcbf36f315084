#!/usr/bin/env python3
"""Start-up: wall time of `loadscope --version`, `--help` and `run URL --iterations 1`.

Each command runs `--repeat` times per side, the sides alternating, and the table gives medians.
With `--base PYTHON` another install (a second venv of the commit to compare against) runs the
same commands, so the ratio holds on a busy machine. Bytecode is written and warmed first (the
environment's PYTHONDONTWRITEBYTECODE is ignored here): a user's installed package has it.

    bash bench/nginx.sh start
    python bench/bench_startup.py [--base ../base/.venv/bin/python] [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results import replace_section
from target import H1_URL, require_nginx

COMMANDS = {
    "loadscope --version": ["--version"],
    "loadscope --help": ["--help"],
    "loadscope run URL --iterations 1": ["run", H1_URL, "--iterations", "1", "--quiet"],
}
TARGETS = {"loadscope --version": 0.15, "loadscope --help": 0.15}
TARGETS["loadscope run URL --iterations 1"] = 0.3


def wall(python: str, arguments: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    out = subprocess.run(
        [python, "-m", "loadscope", *arguments], capture_output=True, env=env, timeout=60
    )
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{python} {arguments} failed: {out.stderr.decode()[-300:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--base", help="python of the install to compare against")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", metavar="FILE", help="replace the startup section of this file")
    args = parser.parse_args()
    require_nginx()
    sides = {"this": sys.executable} | ({"base": args.base} if args.base else {})
    for python in sides.values():  # write and warm the bytecode
        for arguments in COMMANDS.values():
            wall(python, arguments)
    times: dict[str, dict[str, list[float]]] = {c: {s: [] for s in sides} for c in COMMANDS}
    for index in range(args.repeat):
        for name, arguments in COMMANDS.items():
            order = list(sides) if index % 2 == 0 else list(reversed(sides))
            for side in order:
                times[name][side].append(wall(sides[side], arguments))
    table = markdown(times, args)
    print(table)
    if args.write:
        replace_section(Path(args.write), "startup", table)


def markdown(times: dict[str, dict[str, list[float]]], args: argparse.Namespace) -> str:
    base = args.base is not None
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC with `python bench/bench_startup.py"
        f"{' --base BASE/.venv/bin/python' if base else ''} --repeat {args.repeat}`: wall time "
        f"of the whole process, medians of {args.repeat}, sides alternating; load average "
        f"{os.getloadavg()[0]:.1f} (the machine is shared: the target assumes a quiet one).",
        "",
        "| command | target | this (median s) |"
        + (" base (median s) | this / base |" if base else ""),
        "|---|---:|---:|" + ("---:|---:|" if base else ""),
    ]
    for name, sides in times.items():
        mine = statistics.median(sides["this"])
        row = f"| `{name}` | ≤ {TARGETS[name]:.2f} | {mine:.3f} |"
        if base:
            theirs = statistics.median(sides["base"])
            row += f" {theirs:.3f} | {mine / theirs:.2f} |"
        lines.append(row)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
