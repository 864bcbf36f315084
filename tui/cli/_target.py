"""`loadscope target`: the built-in target server in the foreground."""

from __future__ import annotations

from ...engine.target import PlainProtocols, TargetOptions
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
    except (OSError, RuntimeError) as exc:
        raise UsageError(start_error(str(exc), options)) from None


def start_error(text: str, options: TargetOptions) -> str:
    """One line that says which address could not be had, and why."""
    ports = [port for port in (options.port, options.tls_port if options.tls else 0) if port]
    where = " or ".join(f"{options.host}:{port}" for port in ports) or options.host
    if options.unix_socket is not None:
        where += f" or unix socket {options.unix_socket}"
    if options.http3_port:
        where += f" or UDP {options.host}:{options.http3_port}"
    for errno_text, reason in (("[Errno 98]", "address already in use"),
                               ("[Errno 13]", "permission denied")):  # fmt: skip
        if errno_text in text:
            return f"target: cannot listen on {where}: {reason}"
    return f"target: cannot start: {text.removeprefix('the target failed to start: ')}"
