"""`python -m loadscope.engine.target`: the target in the foreground (`loadscope target`'s twin)."""

from __future__ import annotations

import argparse
import sys

from ._foreground import WorkerDied, run_foreground
from ._options import PlainProtocols, TargetOptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadscope.engine.target", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=0, help="plain HTTP port (0: a free one)")
    parser.add_argument("--tls", action="store_true", help="also listen with TLS (self-signed)")
    parser.add_argument("--tls-port", type=int, default=0)
    parser.add_argument(
        "--plain",
        choices=[mode.value for mode in PlainProtocols],
        default=PlainProtocols.BOTH.value,
        help="what the plain port speaks (default: both HTTP/1.1 and h2c)",
    )
    parser.add_argument("--keepalive-timeout", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--always-close", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--unix-socket", default=None, metavar="PATH", help="also listen here")
    args = parser.parse_args(argv)
    options = TargetOptions(
        host=args.host,
        port=args.port,
        tls=args.tls,
        tls_port=args.tls_port,
        plain=PlainProtocols(args.plain),
        keepalive_timeout=args.keepalive_timeout,
        always_close=args.always_close,
        workers=args.workers,
        unix_socket=args.unix_socket,
    )
    try:
        return run_foreground(options)
    except WorkerDied as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
