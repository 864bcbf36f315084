"""`run_foreground`: the target for a terminal (`loadscope target`), until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from typing import TextIO

from ._options import PlainProtocols, TargetOptions
from ._process import TargetProcess


class WorkerDied(RuntimeError):
    """A worker process of the running target exited on its own (killed, out of memory ...)."""


def run_foreground(options: TargetOptions, out: TextIO | None = None) -> int:
    """Start the target, print where it listens, and stop it cleanly on SIGINT/SIGTERM.

    Returns 0 after a signal; raises `WorkerDied` when a worker exited on its own (the others
    are stopped first). Call it from the main thread (it installs signal handlers, restored on
    return).
    """
    out = out or sys.stdout
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with TargetProcess(options) as target:
            _print_banner(target, out)
            while not stop.wait(0.2):
                if not target.is_alive():
                    raise WorkerDied("a worker process exited on its own; the target stopped")
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _print_banner(target: TargetProcess, out: TextIO) -> None:
    options = target.options
    workers = f"{options.workers} worker{'s' if options.workers > 1 else ''}"
    plain = {
        PlainProtocols.BOTH: "HTTP/1.1 + h2c (prior knowledge)",
        PlainProtocols.HTTP1: "HTTP/1.1 only",
        PlainProtocols.H2C: "h2c (prior knowledge) only",
    }[options.plain]
    lines = [
        f"loadscope target: {workers}, pid {', '.join(map(str, target.pids))}",
        f"  {target.http_url}   {plain}",
    ]
    if target.https_url is not None:
        lines.append(f"  {target.https_url}  TLS, ALPN h2 + http/1.1; cacert {target.cert_path}")
    if target.http3_url is not None:
        lines.append(f"  {target.http3_url}  HTTP/3 over QUIC (UDP); cacert {target.cert_path}")
    if options.unix_socket is not None:
        lines.append(f"  unix:{options.unix_socket}   {plain}")
    if options.keepalive_timeout is not None:
        lines.append(f"  idle keep-alive connections close after {options.keepalive_timeout:g} s")
    if options.always_close:
        lines.append("  always_close: every response closes its connection")
    lines.append("  stats: GET /__stats   stop: Ctrl-C")
    print("\n".join(lines), file=out, flush=True)
