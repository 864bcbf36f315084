#!/usr/bin/env python3
"""--workers and --cluster ray against nginx: requests per CPU-second, wall throughput, and
counts checked against nginx's own counters.

    python bench/bench_workers.py --url http://127.0.0.1:18080/ --stub http://127.0.0.1:18090/ \
        [--rounds 3] [--duration 6] [--concurrency 50] [--ray] [--write bench/RESULTS.md]

Give the nginx target's URL and its stub_status URL (bench/'s own nginx script, or any nginx with
`stub_status`). Each configuration runs `loadscope run URL -c C -d D --workers N [--cluster ray]
--format json`; rounds alternate the configurations so machine noise hits them alike.

CPU is the user+system time of the whole process tree of the run (the CLI, its worker processes,
and with Ray the local cluster it starts and its actors), sampled from /proc every 0.2 s together
with nginx's request counter. Both are taken over the steady part of the run (from 1 s after the
first request to 0.5 s before the last), so start-up (spawning, Ray's cluster) is left out and
only the cost of load counts: requests per CPU-second there. Counts are exact or the row says so:
`requests_total` and `connections_opened` of the report against nginx's requests and accepts,
less the stub_status queries this script made.

Local workers are pinned to a core each (loadscope's default when there are enough cores), so
the worker that shares the target's core can be told apart from the one that has a core to
itself: each round prints every worker's requests per CPU-second and involuntary context
switches (preemptions). `--unpinned` adds "2 workers, local, --no-pin", left to the scheduler.

`--merge-cost` times the controller's merge of N workers' snapshots (the work that grows with N)
for a projection of how far one controller goes on a machine with more cores.
Every load is bounded (`--duration`, at most 60 s) and goes to the URL given (use loopback).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_S = 0.2


@dataclass
class Stub:
    url: str
    queries: int = 0

    def read(self) -> tuple[int, int]:
        """(accepts, requests); each query is itself one accept and one request."""
        self.queries += 1
        with urllib.request.urlopen(self.url, timeout=5) as response:
            line = response.read().decode().splitlines()[2].split()
        return int(line[0]), int(line[2])


def tree_cpu(root: int) -> dict[int, tuple[str, float]]:
    """(kind, CPU seconds) of `root` and every descendant alive now: "loadscope" (the CLI, its
    engine processes, the Ray actors relaying them) or "ray" (Ray's own daemons and idle
    workers)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return {pid: (_kind(pid, root), cpu[pid]) for pid in tree if pid in cpu}


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "loadscope"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "ray"
    if "multiprocessing.spawn" in command or "_WorkerActor" in command:
        return "loadscope"
    return "ray"


@dataclass
class Sample:
    t: float
    cpu: float  # every process of the run
    own_cpu: float  # loadscope's processes only (not Ray's daemons)
    requests: int
    workers: dict[int, tuple[float, int]] = field(default_factory=dict)  # pid: (CPU s, preempted)


@dataclass
class Run:
    label: str
    workers: int
    cluster: str
    per_cpu_s: float = 0.0  # requests per CPU-second, steady state, every process
    per_own_cpu_s: float = 0.0  # ... loadscope's processes only (without Ray's daemons)
    wall_rps: float = 0.0
    cpu_cores: float = 0.0  # CPU seconds per wall second in the steady window
    exact: bool = False
    detail: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    per_worker: list[tuple[float, float]] = field(default_factory=list)  # (req/CPU-s, preempt/s)


def engine_processes(seen: dict[int, tuple[str, float]], root: int) -> list[int]:
    """The engine processes of a local run, in the order they were spawned (worker 1 first)."""
    return sorted(pid for pid, (kind, _cpu) in seen.items() if kind == "loadscope" and pid != root)


def preemptions(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return sum(int(line.split()[1]) for line in lines if line.startswith("nonvoluntary_ctxt"))


def run_once(
    args: argparse.Namespace,
    workers: int,
    cluster: str,
    rate: float | None = None,
    pinned: bool = True,
) -> Run:
    label = f"{workers} worker{'s' if workers > 1 else ''}, {cluster}"
    if not pinned:
        label += ", --no-pin"
    if rate:
        label += f", {rate:g} req/s"
    stub = Stub(args.stub)
    accepts0, requests0 = stub.read()
    stub.queries = 0
    command = [
        sys.executable,
        "-m",
        "loadscope.tui.cli",
        "run",
        args.url,
        "-c",
        str(args.concurrency),
        "-d",
        f"{args.duration}s",
        "--workers",
        str(workers),
        "--cluster",
        cluster,
        "--format",
        "json",
    ]
    if not pinned:
        command.append("--no-pin")
    if rate:
        command += ["--rate", f"{rate:g}", "--max-vus", str(args.concurrency)]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env
    )
    seen: dict[int, tuple[str, float]] = {}
    samples: list[Sample] = []
    deadline = time.monotonic() + args.duration + 240
    while process.poll() is None and time.monotonic() < deadline:
        seen.update(tree_cpu(process.pid))
        total = sum(cpu for _kind, cpu in seen.values())
        own = sum(cpu for kind, cpu in seen.values() if kind == "loadscope")
        engines = engine_processes(seen, process.pid) if workers > 1 else []
        per_process = {pid: (seen[pid][1], preemptions(pid)) for pid in engines}
        samples.append(Sample(time.monotonic(), total, own, stub.read()[1], per_process))
        time.sleep(SAMPLE_S)
    if process.poll() is None:
        process.kill()
    out, err = process.communicate()
    accepts1, requests1 = stub.read()
    result = Run(label, workers, cluster)
    if process.returncode != 0:
        result.detail = f"exit {process.returncode}: {err.strip()[-200:]}"
        return result
    report = json.loads(out)
    result.report = report
    load_requests = requests1 - requests0 - stub.queries
    load_accepts = accepts1 - accepts0 - stub.queries
    result.exact = (
        report["requests_total"] == load_requests and report["connections_opened"] == load_accepts
    )
    result.detail = (
        f"report {report['requests_total']:,} requests / {report['connections_opened']} conns; "
        f"nginx {load_requests:,} / {load_accepts}"
    )
    steady(result, samples)
    return result


def steady(result: Run, samples: list[Sample]) -> None:
    moving = [
        i for i in range(1, len(samples)) if samples[i].requests > samples[i - 1].requests + 1
    ]
    if not moving:
        return
    start_t = samples[moving[0]].t + 1.0
    end_t = samples[moving[-1]].t - 0.5
    window = [s for s in samples if start_t <= s.t <= end_t]
    if len(window) < 3:
        return
    first, last = window[0], window[-1]
    requests = last.requests - first.requests - (len(window) - 1)  # our stub queries
    cpu = last.cpu - first.cpu
    own = last.own_cpu - first.own_cpu
    span = last.t - first.t
    result.per_cpu_s = requests / cpu if cpu > 0 else 0.0
    result.per_own_cpu_s = requests / own if own > 0 else 0.0
    result.wall_rps = requests / span
    result.cpu_cores = cpu / span
    result.per_worker = per_worker_efficiency(result.report, first, last, requests, span)


def per_worker_efficiency(
    report: dict[str, Any], first: Sample, last: Sample, requests: int, span: float
) -> list[tuple[float, float]]:
    """Each engine process's requests per CPU-second and preemptions per second in the window;
    the window's requests are shared out as the report's per_worker totals are."""
    totals = [w["requests_total"] for w in report.get("per_worker", [])]
    pids = sorted(set(first.workers) & set(last.workers))
    if len(pids) != len(totals) or len(pids) < 2 or not sum(totals):
        return []
    rows = []
    for pid, total in zip(pids, totals, strict=True):
        cpu = last.workers[pid][0] - first.workers[pid][0]
        preempted = last.workers[pid][1] - first.workers[pid][1]
        share = requests * total / sum(totals)
        rows.append((share / cpu if cpu > 0 else 0.0, preempted / span))
    return rows


def fixed_and_marginal(rows: list[Run]) -> tuple[float, float] | None:
    """Least squares of CPU cores used against requests per second over runs at several rates:
    (fixed cores, CPU microseconds per request)."""
    points = [(r.wall_rps, r.cpu_cores) for r in rows if r.wall_rps]
    if len({round(x) for x, _ in points}) < 2:
        return None
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
        (x - mean_x) ** 2 for x, _ in points
    )
    return mean_y - slope * mean_x, slope * 1e6


def fit_table(runs: dict[str, list[Run]]) -> str:
    by_config: dict[str, list[Run]] = {}
    for rows in runs.values():
        for run in rows:
            by_config.setdefault(f"{run.workers} worker(s), {run.cluster}", []).append(run)
    lines = [
        "| configuration | fixed CPU (cores, whatever the load) | CPU µs per request | "
        "requests per CPU-second at full load (1 / that) |",
        "|---|---:|---:|---:|",
    ]
    for label, rows in by_config.items():
        fit = fixed_and_marginal(rows)
        if fit is None:
            continue
        fixed, per_request = fit
        full = 1e6 / per_request if per_request > 0 else 0.0
        lines.append(f"| {label} | {fixed:.3f} | {per_request:.1f} | {full:,.0f} |")
    return "\n".join(lines)


def paired_ratio(these: list[Run], those: list[Run]) -> float:
    """The median over rounds of this round's ratio: drift between rounds cancels out."""
    pairs = zip(these, those, strict=False)  # a round whose run failed has no pair
    ratios = [a.per_cpu_s / b.per_cpu_s for a, b in pairs if a.per_cpu_s and b.per_cpu_s]
    return statistics.median(ratios) if ratios else 0.0


def pinned_table(rows: list[Run], one_worker: float) -> str:
    """Per worker of the pinned runs: which core it had, and what it cost there."""
    lines = [
        "| pinned worker | requests per CPU-second | vs 1 worker | preemptions per second |",
        "|---|---:|---:|---:|",
    ]
    for index in range(2):
        good = [r.per_worker[index] for r in rows if len(r.per_worker) > index]
        if not good:
            continue
        eff = statistics.median(e for e, _ in good)
        pre = statistics.median(p for _, p in good)
        ratio = f"{eff / one_worker:.2f}x" if one_worker else "-"
        lines.append(f"| worker {index + 1} (core {index}) | {eff:,.0f} | {ratio} | {pre:,.0f} |")
    return "\n".join(lines)


def merge_cost(counts: list[int]) -> list[tuple[int, float]]:
    """Milliseconds to merge N workers' live snapshots (600 s of timeline each), as the
    controller does 4 times a second."""
    sys.path.insert(0, str(REPO))
    from loadscope.engine.metrics import WorkerPart, merge_snapshots

    snapshot = _live_snapshot()
    costs = []
    for n in counts:
        parts = [WorkerPart(k + 1, "node", snapshot) for k in range(n)]
        rounds = max(3, 40 // n)
        cache: dict[object, Any] = {}
        merge_snapshots(parts, cluster="local", timeline_cache=cache)  # the seconds seen before
        began = time.process_time()
        for _ in range(rounds):
            merge_snapshots(parts, cluster="local", timeline_cache=cache)
        costs.append((n, 1000 * (time.process_time() - began) / rounds))
    return costs


def _live_snapshot() -> Any:
    """A worker's live snapshot 600 s into a run: the tests' synthetic one (600 timeline points,
    a latency histogram of real shape), with the 8 extra histograms a worker sends."""
    import dataclasses

    sys.path.insert(0, str(REPO))
    from tests.fake_snapshots import make_snapshot

    snapshot = make_snapshot(600)
    names = ("ttfb", "pool_wait", "latency_new", "latency_reused", "iteration", "connect", "tls")
    extra = tuple((name, snapshot.histogram_total) for name in (*names, "step:GET /"))
    return dataclasses.replace(snapshot, histograms=extra)


def table(runs: dict[str, list[Run]]) -> str:
    lines = [
        "| configuration | requests per CPU-second | same, without Ray's daemons | wall req/s "
        "| CPU cores used | counts exact |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, rows in runs.items():
        good = [r for r in rows if r.per_cpu_s]
        per_cpu = statistics.median(r.per_cpu_s for r in good) if good else 0.0
        own = statistics.median(r.per_own_cpu_s for r in good) if good else 0.0
        wall = statistics.median(r.wall_rps for r in good) if good else 0.0
        cores = statistics.median(r.cpu_cores for r in good) if good else 0.0
        exact = f"{sum(r.exact for r in rows)}/{len(rows)}"
        lines.append(
            f"| {label} | {per_cpu:,.0f} | {own:,.0f} | {wall:,.0f} | {cores:.2f} | {exact} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", required=True, help="the nginx target, e.g. http://127.0.0.1:18080/"
    )
    parser.add_argument("--stub", required=True, help="its stub_status URL")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--ray", action="store_true", help="also 2 workers on a local Ray cluster")
    parser.add_argument(
        "--unpinned", action="store_true", help="also 2 local workers left to the scheduler"
    )
    parser.add_argument("--merge-cost", action="store_true", help="time merges of 1..64 workers")
    parser.add_argument(
        "--rates",
        default="",
        help="also open-model runs at these rates, e.g. 500,1500: fits fixed and per-request CPU",
    )
    parser.add_argument("--write", help="append the tables to this Markdown file")
    args = parser.parse_args()
    args.duration = min(args.duration, 60.0)
    configs = [(1, "local", True), (2, "local", True)]
    configs += [(2, "local", False)] if args.unpinned else []
    configs += [(2, "ray", True)] if args.ray else []
    rates: list[float | None] = [None, *(float(r) for r in args.rates.split(",") if r)]
    runs: dict[str, list[Run]] = {}
    for round_no in range(1, args.rounds + 1):
        for (workers, cluster, pinned), rate in ((c, r) for r in rates for c in configs):
            run = run_once(args, workers, cluster, rate, pinned)
            runs.setdefault(run.label, []).append(run)
            print(
                f"round {round_no} {run.label}: {run.per_cpu_s:,.0f} req/CPU-s "
                f"({run.per_own_cpu_s:,.0f} own), "
                f"{run.wall_rps:,.0f} req/s, {run.cpu_cores:.2f} cores; "
                f"{'exact' if run.exact else 'NOT EXACT'}: {run.detail}"
                + "".join(
                    f"; worker {i}: {eff:,.0f} req/CPU-s, {pre:,.0f} preemptions/s"
                    for i, (eff, pre) in enumerate(run.per_worker, 1)
                ),
                file=sys.stderr,
            )
    text = table(runs)
    medians = {
        label: statistics.median([r.per_cpu_s for r in rows]) for label, rows in runs.items()
    }
    one, two = medians.get("1 worker, local", 0.0), medians.get("2 workers, local", 0.0)
    if one:
        text += f"\n\n2 workers / 1 worker, requests per CPU-second: {two / one:.2f}x"
        paired = paired_ratio(runs.get("2 workers, local", []), runs.get("1 worker, local", []))
        if paired:
            text += f" (median of each round's own ratio: {paired:.2f}x)"
    unpinned = medians.get("2 workers, local, --no-pin")
    if one and unpinned:
        text += f"\n2 workers left to the scheduler (--no-pin) / 1 worker: {unpinned / one:.2f}x"
    if medians.get("2 workers, ray") and two:
        ray = medians["2 workers, ray"]
        own = statistics.median([r.per_own_cpu_s for r in runs["2 workers, ray"]])
        text += f"\nRay / local at 2 workers, CPU per request: {two / ray:.2f}x"
        text += f" ({two / own:.2f}x without Ray's own daemons)" if own else ""
    pinned_runs = runs.get("2 workers, local", [])
    if pinned_runs:
        text += "\n\n" + pinned_table(pinned_runs, one)
    if args.rates:
        text += "\n\n" + fit_table(runs)
    if args.merge_cost:
        text += (
            "\n\n| workers merged | ms per merge | controller CPU at 4 merges/s |\n|---:|---:|---:|"
        )
        for n, ms in merge_cost([1, 2, 4, 8, 16, 32, 64]):
            text += f"\n| {n} | {ms:.1f} | {ms * 4 / 10:.1f}% |"
    print(text)
    if args.write:
        with open(args.write, "a") as out:
            out.write("\n" + text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
