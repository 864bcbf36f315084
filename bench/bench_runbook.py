#!/usr/bin/env python3
"""A templated runbook step against the same request sent with `--url`, in the same run.

Runs five scenarios in one process, each round in a rotating order so machine noise hits all of
them alike: `UrlScenario` (what `loadscope run URL` sends to `/?n=0`); a runbook step with no
template (built once, reused); a runbook step whose path is a template evaluated every iteration
that renders the same request as the URL (`/?n={{ runn.i % 1 }}`); one whose path differs
every iteration (`/?n={{ runn.i }}`: a new request to assemble and serialize each time); and the
templated step with a `test` on the response (so its results are recorded and read). With
`--target builtin`, also a step whose `test` runs `filter` and `map` over a JSON body, against
the URL of that JSON (`url-json`). Prints
the client's CPU time per request each round (robust to other load on the machine, unlike
requests per second) and the median ratio against the URL's, round by round (1.00 = as cheap).

    bash bench/nginx.sh start                            # or: --target builtin
    python bench/bench_runbook.py --rounds 5 --duration 3

Loopback only; every load is bounded (`--duration` seconds, at most 30, `--rounds` at most 20).
The process pins itself to one CPU (BENCH_CPU, default 0) unless it already is pinned.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from target import H1_URL  # noqa: E402  (bench/target.py: the port bench/nginx.sh listens on)

from loadscope.engine import Session, SessionConfig, UrlScenario  # noqa: E402
from loadscope.engine.runbook import load_runbooks  # noqa: E402

NGINX = H1_URL.rstrip("/")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")

STATIC = """
runners:
  req: {origin}
steps:
  get:
    req:
      /?n=0:
        get: {{}}
"""
VARYING = """
runners:
  req: {origin}
steps:
  get:
    req:
      /?n={{{{ runn.i }}}}:
        get: {{}}
"""
TEMPLATED = """
runners:
  req: {origin}
steps:
  get:
    req:
      /?n={{{{ runn.i % 1 }}}}:
        get: {{}}
"""
TESTED = TEMPLATED + "    test: current.res.status == 200\n"
FILTERED = """
runners:
  req: {origin}
steps:
  get:
    req:
      /json:
        get: {{}}
    test: |
      current.res.status == 200
      && len(filter(current.res.body.items, # > 1)) == 2
      && map(current.res.body.items, {{# * 2}})[0] == 2
"""
BOOKS = {
    "runbook-static": STATIC,
    "runbook-templated": TEMPLATED,
    "runbook-varying": VARYING,
    "runbook-tested": TESTED,
}
# A JSON body to filter: only the built-in target serves one (/json); compared with the URL of
# the same path, in the same rounds.
JSON_BOOKS = {"runbook-filtered": FILTERED}
BASELINE = {"runbook-filtered": "url-json"}


def pin() -> None:
    cpu = int(os.environ.get("BENCH_CPU", "0"))
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {cpu})


async def measure(scenario: object, concurrency: int, duration: float) -> tuple[float, float]:
    """(requests per second, CPU microseconds per request) of one bounded session."""
    config = SessionConfig(
        concurrency=concurrency, duration=duration, kernel_view=False, detectors=False
    )
    session = Session(config, scenario)  # type: ignore[arg-type]
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.wait_for(session.run(), duration + 30)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    metrics = session.metrics
    if metrics.errors or metrics.iterations_failed or not metrics.requests:
        raise SystemExit(f"errors during the run: {dict(metrics.error_kinds)} {metrics.failures}")
    return metrics.requests / elapsed, cpu / metrics.requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["nginx", "builtin"], default="nginx")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("-c", "--concurrency", type=int, default=10)
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, 20))
    duration = max(0.5, min(args.duration, 30.0))
    if args.target == "builtin":
        from loadscope.engine.target import TargetOptions, TargetProcess

        with TargetProcess(TargetOptions()) as target:  # started first: not on our CPU
            pin()
            run(target.http_url.rstrip("/"), rounds, duration, args.concurrency, json=True)
    else:
        pin()
        run(NGINX, rounds, duration, args.concurrency, json=False)


def run(origin: str, rounds: int, duration: float, concurrency: int, *, json: bool) -> None:
    if not any(f"//{host}" in origin for host in LOOPBACK):
        raise SystemExit(f"refusing a non-loopback target: {origin}")
    with tempfile.TemporaryDirectory() as directory:
        scenarios: dict[str, object] = {"url": UrlScenario(f"{origin}/?n=0")}
        books = dict(BOOKS)
        if json:
            scenarios["url-json"] = UrlScenario(f"{origin}/json")
            books.update(JSON_BOOKS)
        for name, text in books.items():
            book = Path(directory, f"{name}.yml")
            book.write_text(text.format(origin=origin))
            scenarios[name] = load_runbooks([book])
        rps: dict[str, list[float]] = {name: [] for name in scenarios}
        cost: dict[str, list[float]] = {name: [] for name in scenarios}
        names = list(scenarios)
        for round_number in range(rounds):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                throughput, cpu = asyncio.run(measure(scenarios[name], concurrency, duration))
                rps[name].append(throughput)
                cost[name].append(cpu)
            line = "  ".join(f"{name} {cost[name][-1]:5.1f}" for name in names)
            print(f"round {round_number + 1:2}: CPU µs per request: {line}", flush=True)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print()
    print(
        f"target {origin}, -c {concurrency}, {rounds} rounds x {duration:g}s per scenario, "
        f"pinned to CPU {cpus}"
    )
    print()
    print("| scenario | median req/s | median CPU µs/request | median cost vs url (CPU) |")
    print("|---|---:|---:|---:|")
    for name in names:
        baseline = cost[BASELINE.get(name, "url")]
        ratios = [mine / url for mine, url in zip(cost[name], baseline, strict=True)]
        print(
            f"| {name} | {statistics.median(rps[name]):.0f} | "
            f"{statistics.median(cost[name]):.1f} | {statistics.median(ratios):.3f} |"
        )


if __name__ == "__main__":
    main()
