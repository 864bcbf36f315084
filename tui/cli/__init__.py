"""loadscope's command line. Every failure is one line on stderr and an exit code, never a
traceback: 0 ok, 1 threshold failed, 2 bad input or target unreachable, 130 interrupted."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._args import attach_negative_values, build_parser
from ._errors import EXIT_INTERRUPTED, EXIT_USAGE, UsageError

EXIT_INTERNAL = 3


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(arguments)
    except UsageError as exc:
        message = str(exc)
        standalone = message.startswith("loadscope") or _located(message)
        print(message if standalone else f"loadscope: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("loadscope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # one line, never a traceback; LOADSCOPE_DEBUG=1 shows it
        import os

        if os.environ.get("LOADSCOPE_DEBUG"):
            raise
        print(f"loadscope: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


def _located(message: str) -> bool:
    """`file:line:col: ...` messages stand on their own, like a compiler's."""
    head = message.split(": ", 1)[0]
    return head.count(":") >= 2 and head.rsplit(":", 2)[-1].isdigit()


def _dispatch(arguments: list[str]) -> int:
    parser = build_parser()
    if arguments in (["-h"], ["--help"]):
        parser.print_help()
        return 0
    args = parser.parse_args(attach_negative_values(arguments))
    if args.version:
        from importlib.metadata import version

        print(f"loadscope {version('loadscope')}")
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

        return cmd_watch(args)
    if command == "compare":
        from ._compare import cmd_compare

        return cmd_compare(args)
    if command == "serve":
        from ._serve import cmd_serve

        return cmd_serve(args)
    raise UsageError(f"'{command}' is not available yet")


def entry() -> None:
    sys.exit(main())
