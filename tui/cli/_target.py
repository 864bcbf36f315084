"""`loadscope target`: the built-in target server in the foreground."""

from __future__ import annotations

import argparse

from engine.target import TargetOptions
from engine.target._options import PlainProtocols

from ._errors import UsageError


def cmd_target(args: argparse.Namespace) -> int:
    from engine.target import run_foreground

    try:
        options = TargetOptions(
            port=args.port,
            tls=args.tls,
            tls_port=args.tls_port if args.tls else 0,
            plain=PlainProtocols.H2C if args.h2c else PlainProtocols.BOTH,
            workers=args.workers,
            keepalive_timeout=args.keepalive_timeout,
            always_close=args.always_close,
        )
    except ValueError as exc:
        raise UsageError(f"target: {exc}") from None
    try:
        return run_foreground(options)
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"target: cannot start: {exc}") from None
