"""`loadscope target`: the built-in target server in the foreground."""

from __future__ import annotations

from ...engine.target import ListenError, PlainProtocols, TargetOptions, WorkerDied
from ._errors import UsageError
from ._plan import TargetFlags


def cmd_target(args: TargetFlags) -> int:
    from ...engine.target import run_foreground

    try:
        options = TargetOptions(
            port=args.port,
            tls=args.tls,
            tls_port=args.tls_port if args.tls else 0,
            plain=PlainProtocols.H2C if args.h2c else PlainProtocols.BOTH,
            http3_port=args.http3_port,
            workers=args.workers,
            keepalive_timeout=args.keepalive_timeout,
            always_close=args.always_close,
            unix_socket=args.unix_socket,
        )
    except ValueError as exc:
        raise UsageError(f"target: {exc}") from None
    try:
        return run_foreground(options)
    except WorkerDied as exc:  # not bad input, but the target could not keep running as asked
        raise UsageError(f"target: {exc}") from None
    except (OSError, RuntimeError) as exc:
        raise UsageError(start_error(exc)) from None


def start_error(exc: BaseException) -> str:
    """One line: the one listener that could not be had and why, or what else stopped it."""
    if isinstance(exc.__cause__, ListenError):
        return f"target: {exc.__cause__}"
    return f"target: cannot start: {str(exc).removeprefix('the target failed to start: ')}"
