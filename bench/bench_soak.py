#!/usr/bin/env python3
"""A soak: does a long `loadscope run` keep its memory and its file descriptors flat?

Runs `loadscope run URL` for `--duration` (default 10 min) twice, one run after the other: a
closed model (`-c 50`, back to back) and an open model (`--rate 500`). While each runs, its RSS
and open file descriptors (the process and any children, from /proc) are sampled every
`--interval` seconds. Prints the series, first/last/max, the growth trend and a verdict per run
as Markdown.

    bash bench/nginx.sh start                   # or: --target builtin (its own process)
    nohup python bench/bench_soak.py --write bench/RESULTS.md > bench/out/soak.log 2>&1 &

"flat" (decided before measuring): after a warm-up (default 60 s: pools, histograms and the
allocator fill up), the second half of the samples never rises above the first half's maximum by
more than a tolerance (RSS: 2 MiB or 3 %, the larger; fds: 2). A leak, however slow, keeps
raising the later samples; noise does not move a maximum for good. Linux only (/proc). Loopback
only; every load is bounded (at most 30 min per run).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

from results import replace_section
from target import H1_URL, accepts_between, nginx_accepts, pinned, require_nginx

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
MAX_DURATION_S = 1800.0
RSS_TOLERANCE_MIB, RSS_TOLERANCE_SHARE, FD_TOLERANCE = 2.0, 0.03, 2
Accepts = Callable[[], int | None]  # the target's accept counter, if it has one


@dataclass
class Sample:
    t_s: float
    rss_mib: float
    fds: int


@dataclass
class Run:
    name: str
    command: list[str]
    samples: list[Sample] = field(default_factory=list)
    report: dict[str, object] = field(default_factory=dict)
    target_accepts: int | None = None
    load_average: float = 0.0  # the machine's, over the minute before the run


# -- /proc ---------------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants that are alive now."""
    tree, index = [pid], 0
    while index < len(tree):
        for task in Path(f"/proc/{tree[index]}/task").glob("*/children"):
            with suppress(OSError):  # the child exited meanwhile
                tree.extend(int(child) for child in task.read_text().split())
        index += 1
    return tree


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0  # a zombie has no VmRSS


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def sample(pid: int, t_s: float) -> Sample | None:
    """RSS and fds summed over the process tree; None once the process is gone."""
    rss = fds = 0
    try:
        for member in process_tree(pid):
            rss += rss_kib(member)
            fds += open_fds(member)
    except (FileNotFoundError, ProcessLookupError):
        return None
    return Sample(round(t_s, 1), round(rss / 1024, 1), fds)


# -- one soak run --------------------------------------------------------------------------------


def soak(run: Run, duration: float, interval: float, accepts: Accepts) -> None:
    """Start the run and sample it every `interval` seconds of wall clock until it exits."""
    before, run.load_average = accepts(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "report.json"
        command = [*run.command, "--out", str(report_path)]
        print(f"{run.name}: {' '.join(command)}", file=sys.stderr, flush=True)
        started = time.monotonic()
        child = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=HERE.parent
        )
        sample_until_exit(run, child, started, interval, deadline=started + duration + 120)
        _, stderr = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"{run.name}: exit {child.returncode}: {stderr.decode()[-500:]}")
        run.report = json.loads(report_path.read_text())
    run.target_accepts = accepts_between(before, accepts())


def sample_until_exit(
    run: Run, child: subprocess.Popen[bytes], started: float, interval: float, deadline: float
) -> None:
    tick = 1
    while child.poll() is None:
        if time.monotonic() > deadline:
            child.kill()
            raise SystemExit(f"{run.name}: still running after its duration plus 120 s; killed")
        wake = started + tick * interval
        time.sleep(max(0.0, wake - time.monotonic()))
        if child.poll() is not None:
            break
        point = sample(child.pid, time.monotonic() - started)
        if point is not None:
            run.samples.append(point)
            print(f"{run.name} {point}", file=sys.stderr, flush=True)
        tick += 1


# -- the verdict -----------------------------------------------------------------------------------


def halves(values: Sequence[float]) -> tuple[Sequence[float], Sequence[float]]:
    middle = len(values) // 2
    return values[:middle], values[middle:]


def slope_per_minute(times: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares growth per minute."""
    n = len(times)
    if n < 2:
        return 0.0
    mean_t, mean_v = sum(times) / n, sum(values) / n
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread == 0:
        return 0.0
    covariance = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True))
    return 60 * covariance / spread


def is_flat(values: Sequence[float], tolerance: float, share: float) -> tuple[bool, float]:
    """(flat?, how far the second half's maximum rose above the first half's)."""
    first, second = halves(values)
    if not first or not second:
        return True, 0.0
    rise = max(second) - max(first)
    return rise <= max(tolerance, share * max(first)), rise


def steady(samples: list[Sample], warm_up: float) -> list[Sample]:
    return [point for point in samples if point.t_s >= warm_up]


# -- Markdown ------------------------------------------------------------------------------------


def describe_run(run: Run, warm_up: float) -> list[str]:
    after = steady(run.samples, warm_up)
    rss = [point.rss_mib for point in run.samples]
    fds = [point.fds for point in run.samples]
    rss_flat, rss_rise = is_flat([p.rss_mib for p in after], RSS_TOLERANCE_MIB, RSS_TOLERANCE_SHARE)
    fds_flat, fds_rise = is_flat([p.fds for p in after], FD_TOLERANCE, 0.0)
    times = [p.t_s for p in after]
    rss_slope = slope_per_minute(times, [p.rss_mib for p in after])
    fds_slope = slope_per_minute(times, [p.fds for p in after])
    report = run.report
    accepted = (
        "" if run.target_accepts is None else f" (nginx's accept counter: {run.target_accepts})"
    )
    return [
        f"**{run.name}**: `{' '.join(shorten(run.command))}`: "
        f"{report.get('requests_total', 0):,} requests, "
        f"{report.get('requests_per_second', 0):,.0f} req/s, "
        f"{report.get('errors_total', 0):,} errors, "
        f"{report.get('dropped_iterations', 0):,} dropped iterations, "
        f"{report.get('connections_opened', 0):,} connections opened{accepted}, "
        f"peak {report.get('connections_peak_open', 0):,} open; load average "
        f"{run.load_average:.1f} at the start.",
        "",
        "| | first | last | max | second half − first half (max) | trend after warm-up | verdict |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| RSS (MiB) | {rss[0]:.1f} | {rss[-1]:.1f} | {max(rss):.1f} | {rss_rise:+.1f} | "
        f"{rss_slope:+.3f} MiB/min | {'flat' if rss_flat else '**not flat**'} |",
        f"| open fds | {fds[0]} | {fds[-1]} | {max(fds)} | {fds_rise:+.0f} | "
        f"{fds_slope:+.3f} /min | {'flat' if fds_flat else '**not flat**'} |",
        "",
        "```",
        *series_lines("RSS MiB", [f"{v:.1f}" for v in rss], run.samples),
        *series_lines("fds", [str(v) for v in fds], run.samples),
        "```",
    ]


def series_lines(
    label: str, values: list[str], samples: list[Sample], per_line: int = 12
) -> list[str]:
    lines = []
    for start in range(0, len(values), per_line):
        head = f"{label} from {samples[start].t_s:>4.0f} s:"
        lines.append(f"{head:<22}" + " ".join(f"{v:>6}" for v in values[start : start + per_line]))
    return lines


def shorten(command: list[str]) -> list[str]:
    """The command as a reader would type it: `loadscope run ...`, without the pinning."""
    start = command.index("loadscope")
    return ["loadscope", *command[start + 1 :]]


def markdown(runs: list[Run], args: argparse.Namespace, target: str) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC with `python bench/bench_soak.py`: "
        f"{args.duration:g} s per run, one run after the other, against {target}; loadscope pinned "
        f"to CPU {os.environ.get('BENCH_CPU', '0')}, the target on the other core; RSS and open "
        f"fds of the loadscope process (and any children) sampled every {args.interval:g} s "
        f"from /proc. Other sessions were using the machine, so throughput varies.",
        "",
        f"Criterion for **flat**, fixed before measuring: after a {args.warm_up:g} s warm-up, the "
        f"second half of the samples never rises above the first half's maximum by more than "
        f"{RSS_TOLERANCE_MIB:g} MiB or {RSS_TOLERANCE_SHARE:.0%} (RSS, the larger) or "
        f"{FD_TOLERANCE} (fds). The trend is the least-squares slope over the same samples.",
    ]
    for run in runs:
        lines += ["", *describe_run(run, args.warm_up)]
    return "\n".join(lines)


# -- targets and main ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def builtin_target() -> Iterator[str]:
    """loadscope's built-in target in its own process, on the core the generator does not use."""
    port = free_port()
    cpu = os.environ.get("NGINX_CPU", "1")
    command = [sys.executable, "-m", "loadscope", "target", "--port", str(port)]
    server = subprocess.Popen(
        ["taskset", "-c", cpu, *command], stdout=subprocess.DEVNULL, cwd=HERE.parent
    )
    try:
        wait_for_port(port, deadline=time.monotonic() + 20)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=20)


def wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the built-in target did not listen on :{port}")


def no_counter() -> int | None:
    return None


@contextmanager
def chosen_target(kind: str) -> Iterator[tuple[str, str, Accepts]]:
    """(URL, description, the target's accept counter) of the target to soak against."""
    if kind == "builtin":
        with builtin_target() as url:
            yield url, "the built-in target in its own process (`loadscope target`)", no_counter
        return
    require_nginx()
    yield H1_URL, "nginx (`bench/nginx.sh`, HTTP/1.1)", nginx_accepts


def loadscope_run(url: str, duration: float, load: list[str]) -> list[str]:
    base = [sys.executable, "-m", "loadscope", "run", url, "-d", f"{duration:g}s", "--http1"]
    return pinned([*base, *load, "--format", "json", "--quiet"])


def without_timeline(run: dict[str, object]) -> dict[str, object]:
    report = run["report"]
    assert isinstance(report, dict)
    return run | {"report": {key: value for key, value in report.items() if key != "timeline"}}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--target", choices=["nginx", "builtin"], default="nginx")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warm-up", type=float, default=60.0, help="seconds the verdict skips")
    parser.add_argument("-c", type=int, default=50, help="closed model: virtual users")
    parser.add_argument("--rate", type=float, default=500.0, help="open model: iterations/s")
    parser.add_argument("--max-vus", type=int, default=200, help="open model: VU cap")
    parser.add_argument("--only", choices=["closed", "open"], help="run only one model")
    parser.add_argument("--write", metavar="FILE", help="replace the soak section of this file")
    args = parser.parse_args()
    args.duration = min(args.duration, MAX_DURATION_S)
    return args


def main() -> None:
    args = parse_args()
    loads = {
        "closed model": ["-c", str(args.c)],
        "open model": ["--rate", f"{args.rate:g}", "--max-vus", str(args.max_vus)],
    }
    if args.only:
        loads = {name: load for name, load in loads.items() if name.startswith(args.only)}
    with chosen_target(args.target) as (url, target, accepts):
        runs = [Run(name, loadscope_run(url, args.duration, load)) for name, load in loads.items()]
        for run in runs:
            soak(run, args.duration, args.interval, accepts)
    OUT.mkdir(exist_ok=True)
    raw = OUT / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    raw.write_text(json.dumps([without_timeline(asdict(run)) for run in runs], indent=1))
    table = markdown(runs, args, target)
    print(table)
    if args.write:
        replace_section(Path(args.write), "soak", table)


if __name__ == "__main__":
    main()
