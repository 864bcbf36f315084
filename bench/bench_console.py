#!/usr/bin/env python3
"""What the console costs: the same load with and without the live dashboard, same run.

`loadscope run URL -c 50 -d D` (headless) against `loadscope console URL -c 50 -d D` in a
pseudo-terminal (120×40, redrawing live), both pinned to the same core so the console's drawing
competes with the engine for CPU (the worst case), alternating rounds, medians.

    bash bench/nginx.sh start
    python bench/bench_console.py --rounds 3 --duration 10 [--write bench/RESULTS.md]

`--keep-up` measures instead whether the console keeps up with a big load (issue 20, target 5):
`loadscope console URL -c 10000` in a 120×40 pseudo-terminal whose output a terminal emulator
(pyte) reads. Once every VU has its connection, it times the gaps between updates of the
screen's request counter (target: at least one a second), and presses `+` every few seconds,
timing each press until the header shows the new VU count (target: within 200 ms).

    python bench/bench_console.py --keep-up -c 10000 --duration 40 [--write bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect
import pyte
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
    parser.add_argument("--keep-up", action="store_true", help="refresh and key latency instead")
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    require_nginx()
    if args.keep_up:
        keep_up_main(args.c, args.duration, args.write)
        return
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


class Screen:
    """The console's screen as a terminal would show it, read from the pseudo-terminal."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.screen = pyte.Screen(120, 40)
        self.stream = pyte.ByteStream(self.screen)

    def read(self, seconds: float) -> None:
        """Feed whatever the console writes for `seconds`."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                self.stream.feed(self.child.read_nonblocking(1 << 16, timeout=min(left, 0.01)))
            except pexpect.TIMEOUT:
                continue

    def number(self, pattern: str) -> int | None:
        found = re.search(pattern, "\n".join(self.screen.display))
        return int(found.group(1).replace(",", "")) if found else None


def keep_up(c: int, d: float, press_every: float = 3.0) -> dict[str, list[float]]:
    command = [
        "-c", CPU, sys.executable, "-m", "loadscope", "console", URL,
        "-c", str(c), "-d", f"{d}s", "--http1",
    ]  # fmt: skip
    env = {**os.environ, "TERM": "xterm-256color"}
    child = pexpect.spawn("taskset", command, cwd=str(HERE.parent), env=env, dimensions=(40, 120))
    screen = Screen(child)
    gaps: list[float] = []
    presses: list[float] = []
    started = time.monotonic()
    try:
        wait_for_every_connection(screen, c, deadline=started + d)
        end = started + d - 2  # the last seconds are the run's ending, not its steady state
        last_count, last_change, next_press = None, time.monotonic(), time.monotonic() + 1
        while time.monotonic() < end:
            screen.read(0.01)
            count = screen.number(r"([\d,]+) requests")
            if count is not None and count != last_count:
                now = time.monotonic()
                if last_count is not None:
                    gaps.append(now - last_change)
                last_count, last_change = count, now
            if time.monotonic() >= next_press:
                presses.append(press_and_wait(screen, "+", end))
                next_press = time.monotonic() + press_every
    finally:
        child.sendcontrol("c")
        screen.read(3)
        child.close(force=True)
    return {"gaps": gaps, "presses": presses}


def wait_for_every_connection(screen: Screen, c: int, deadline: float) -> None:
    """Until the connection panel shows `c` connections open: every VU has started."""
    while time.monotonic() < deadline:
        screen.read(0.05)
        if (screen.number(r"open ([\d,]+)  act") or 0) >= c:  # "active", or "act" when short
            return
    raise SystemExit(f"the console never showed {c:,} open connections")


def press_and_wait(screen: Screen, key: str, deadline: float) -> float:
    """Seconds from the key press until the header's VU count changes."""
    before = screen.number(r"([\d,]+) VUs")
    pressed = time.monotonic()
    screen.child.send(key)
    while time.monotonic() < deadline:
        screen.read(0.005)
        if screen.number(r"([\d,]+) VUs") != before:
            return time.monotonic() - pressed
    return float("inf")


def keep_up_main(c: int, d: float, write: str | None) -> None:
    result = keep_up(c, d)
    gaps, presses = result["gaps"], result["presses"]
    if not gaps or not presses:
        raise SystemExit("too short a run: no updates or no key presses measured")
    load = os.getloadavg()[0]
    refresh = f"median {statistics.median(gaps):.2f} s, longest {max(gaps):.2f} s"
    keys = ", ".join(f"{p * 1000:.0f}" for p in presses)
    table = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with "
            f"`python bench/bench_console.py --keep-up -c {c} --duration {d:g}`: the console "
            f"and its engine pinned to core {CPU}, nginx on the other; load average {load:.1f}.",
            "",
            "| measure | target | measured |",
            "|---|---|---|",
            f"| screen updates of the request counter, once all {c:,} connections were open "
            f"({len(gaps)} gaps) | at least one a second | {refresh} |",
            f"| `+` pressed until the header shows the new VU count ({len(presses)} presses) | "
            f"within 200 ms | median {statistics.median(presses) * 1000:.0f} ms, longest "
            f"{max(presses) * 1000:.0f} ms ({keys} ms) |",
        ]
    )
    print(table)
    if write:
        replace_section(Path(write), "console-keep-up", table)


if __name__ == "__main__":
    main()
