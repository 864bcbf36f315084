"""loadscope's command line. Every failure is one line on stderr and an exit code, never a
traceback: 0 ok, 1 threshold failed, 2 bad input or target unreachable, 130 interrupted.

This module stays light: `entry()` takes over Ctrl-C and SIGTERM before the engine is imported
(a second or more on a busy machine), so a signal at any moment ends in exit 130.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from . import _signals
from ._errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE, UsageError

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_THRESHOLD",
    "EXIT_USAGE",
    "UsageError",
    "entry",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    from ._streams import redacted_output

    with redacted_output():
        return _main(arguments)


def _main(arguments: list[str]) -> int:
    try:
        code = _dispatch(arguments)
    except UsageError as exc:
        message = str(exc)
        standalone = message.startswith("loadscope") or _located(message)
        print(message if standalone else f"loadscope: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("loadscope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        return _internal_error(exc)
    if _signals.interrupted() and code in (EXIT_OK, EXIT_THRESHOLD):
        return EXIT_INTERRUPTED  # a signal the command had no run to stop (e.g. while parsing)
    return code


def _internal_error(exc: Exception) -> int:
    """A bug of ours, not the user's: one line, never a traceback (LOADSCOPE_DEBUG=1 shows it).
    The exit code is 2, "could not run as asked", the contract has no other for it."""
    import os

    if os.environ.get("LOADSCOPE_DEBUG"):
        raise exc
    print(
        f"loadscope: internal error: {type(exc).__name__}: {exc} "
        "(please report it; LOADSCOPE_DEBUG=1 shows where)",
        file=sys.stderr,
    )
    return EXIT_USAGE


def _located(message: str) -> bool:
    """`file:line:col: ...` messages stand on their own, like a compiler's."""
    head = message.split(": ", 1)[0]
    return head.count(":") >= 2 and head.rsplit(":", 2)[-1].isdigit()


def _dispatch(arguments: list[str]) -> int:
    from ._args import attach_negative_values, build_parser

    parser = build_parser()
    if arguments in (["-h"], ["--help"]):
        parser.print_help()
        return 0
    args = parser.parse_args(attach_negative_values(arguments))
    if args.version:
        from ... import __version__  # a constant: no package metadata to read (0.2 s)

        print(f"loadscope {__version__}")
        return 0
    command = args.command or "demo"
    if command == "run":
        from ._run import cmd_run

        return cmd_run(args)
    if command == "console":
        from ._console import cmd_console

        return cmd_console(args)
    if command == "target":
        from ._target import cmd_target

        _signals.raise_from_now()
        return cmd_target(args)
    if command == "loadt":
        from ._loadt_cmd import cmd_loadt

        return cmd_loadt(args)
    if command == "demo":
        from ._demo import cmd_demo

        if args.command is None:  # plain `loadscope`: the default demo
            args = parser.parse_args(["demo"])
        return cmd_demo(args)
    if command == "watch":
        from ._watch import cmd_watch

        _signals.raise_from_now()
        return cmd_watch(args)
    if command == "compare":
        from ._compare import cmd_compare

        return cmd_compare(args)
    if command == "serve":
        from ._serve import cmd_serve

        return cmd_serve(args)
    raise UsageError(f"'{command}' is not available yet")


def entry() -> None:
    _signals.install()
    sys.exit(main())
