"""`loadscope watch HOST:PORT --headless`: the kernel view of one port, one line a second.

No load of our own: it watches the churn another client causes against a server on this
machine (or this machine's connections to a remote one).
"""

from __future__ import annotations

import os
import sys
import time

from ...engine.diagnostics.kernel import (
    LOOKS_PER_SECOND,
    SocketWatcher,
    WatchSample,
    endpoints_for,
    parse_address,
)
from ..format import number
from ._errors import EXIT_INTERRUPTED, EXIT_OK, UsageError
from ._plan import WatchPlan

COLUMNS = ("t", "new/s", "ESTABLISHED", "TIME_WAIT", "CLOSE_WAIT", "SYN_SENT", "other", "ports")
WIDTHS = (7, 8, 12, 10, 11, 9, 6, 14)


def cmd_watch(args: WatchPlan) -> int:
    watcher = _watcher(args.address)
    run_for = args.duration
    first = watcher.poll()
    if first is None:
        raise UsageError("watch: no socket view here (it needs Linux: sock_diag or /proc/net/tcp)")
    if not args.headless:
        return _live(watcher, run_for)
    print(
        f"watching {watcher.label}, both ends ({first.source}): new connections a second "
        "and sockets by state",
        flush=True,
    )
    print(_row(COLUMNS), flush=True)
    last = first
    try:
        for sample in _samples(watcher, run_for):
            print(_line(sample), flush=True)
            last = sample
    except KeyboardInterrupt:
        print(_summary(watcher, last), flush=True)
        return EXIT_INTERRUPTED
    print(_summary(watcher, last), flush=True)
    return EXIT_OK


def _live(watcher: SocketWatcher, run_for: float | None) -> int:
    if not sys.stdout.isatty() and not os.environ.get("LOADSCOPE_FORCE_CONSOLE"):
        raise UsageError("watch: the live view needs a terminal; add --headless for lines")
    from ..watch_app import WatchApp

    app = WatchApp(watcher, run_for)
    code = app.run()
    if app.samples:
        print(_summary(watcher, app.samples[-1]), flush=True)
    return code if isinstance(code, int) else EXIT_OK


def _watcher(address: str) -> SocketWatcher:
    try:
        host, port = parse_address(address)
    except ValueError as exc:
        raise UsageError(f"watch: {exc}") from None
    try:
        return SocketWatcher(endpoints_for(host, port))
    except OSError as exc:
        raise UsageError(f"watch: cannot resolve {host}: {exc}") from None


def _samples(watcher: SocketWatcher, run_for: float | None):  # type: ignore[no-untyped-def]
    """One sample a second, on a fixed schedule, until `run_for` seconds have passed; the
    watcher looks in between."""
    started = next_at = time.monotonic()
    while run_for is None or next_at + 1.0 <= started + run_for + 1e-6:
        next_at += 1.0
        _look_until(watcher, next_at)
        sample = watcher.poll()
        if sample is not None:
            yield sample


def _look_until(watcher: SocketWatcher, deadline: float) -> None:
    """The reads between two polls, LOOKS_PER_SECOND a second, the last a step before
    `deadline`; then wait for it."""
    step = 1.0 / LOOKS_PER_SECOND
    look_at = deadline - 1.0 + step
    while look_at < deadline - step / 2:
        time.sleep(max(0.0, look_at - time.monotonic()))
        watcher.look()
        look_at += step
    time.sleep(max(0.0, deadline - time.monotonic()))


def _row(cells: tuple[str, ...]) -> str:
    return "".join(cell.rjust(width) for cell, width in zip(cells, WIDTHS, strict=True))


def _line(sample: WatchSample) -> str:
    counts = sample.counts
    low, high = sample.ephemeral_range
    ports = f"{sample.ephemeral_in_use}/{high - low + 1}" if high >= low > 0 else "-"
    rate = sample.new_per_second if sample.new_per_second is not None else 0.0
    return _row(
        (
            f"{sample.elapsed_s:.0f}s",
            number(rate),  # the console's format: 7,724 and 8,460, never 8460.3
            str(counts.established),
            str(counts.time_wait),
            str(counts.close_wait),
            str(counts.syn_sent),
            str(counts.other),
            ports,
        )
    )


def _summary(watcher: SocketWatcher, last: WatchSample) -> str:
    seconds = last.elapsed_s
    rate = f" ({number(watcher.total_new / seconds)}/s)" if seconds > 0 else ""
    return (
        f"{watcher.label}: {watcher.total_new:,} new connections in {seconds:.1f}s{rate}, "
        f"TIME_WAIT peak {watcher.time_wait_peak:,}"
    )
