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
    """`file:line:col: ...` messages stand on their own, like a compiler's (a flag's own
    expression, `--threshold:1:6: ...`, is still ours: it gets the prefix)."""
    head = message.split(": ", 1)[0]
    if head.startswith("-"):
        return False
    parts = head.rsplit(":", 2)
    return len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit()


def _dispatch(arguments: list[str]) -> int:
    from ._args import attach_negative_values, build_parser

    parser = build_parser()
    if arguments in (["-h"], ["--help"]):
        parser.print_help()
        return 0
    args = parser.parse_args(attach_negative_values(arguments or ["demo"]))
    if args.version:
        from ... import __version__  # a constant: no package metadata to read (0.2 s)

        print(f"loadscope {__version__}")
        return 0
    if args.command in ("target", "watch"):
        _signals.raise_from_now()
    from ._plan import command_plan

    return _run_command(command_plan(args))


def _run_command(plan: object) -> int:
    """Each command's body, from its plan."""
    from . import _plan

    if isinstance(plan, _plan.RunPlan):
        if plan.command == "loadt":
            from ._loadt_cmd import cmd_loadt

            return cmd_loadt(plan)
        if plan.command == "console":
            from ._console import cmd_console

            return cmd_console(plan)
        from ._run import cmd_run

        return cmd_run(plan)
    if isinstance(plan, _plan.DemoPlan):
        from ._demo import cmd_demo

        return cmd_demo(plan)
    if isinstance(plan, _plan.TargetFlags):
        from ._target import cmd_target

        return cmd_target(plan)
    if isinstance(plan, _plan.WatchPlan):
        from ._watch import cmd_watch

        return cmd_watch(plan)
    if isinstance(plan, _plan.ComparePlan):
        from ._compare import cmd_compare

        return cmd_compare(plan)
    assert isinstance(plan, _plan.ServePlan)
    from ._serve import cmd_serve

    return cmd_serve(plan)


def entry() -> None:
    _signals.install()
    _skip_httpx_command_line()
    sys.exit(main())


def _skip_httpx_command_line() -> None:
    """httpx's package imports its own command line (click, Rich, Pygments: 50 ms and more)
    whenever those are installed, and Textual installs Rich. loadscope never runs httpx's
    command line, so in this process `httpx._main` is marked absent before httpx is imported:
    httpx then binds `httpx.main` to its stand-in that says the CLI's dependencies are missing.
    Only the `loadscope` process does this; the engine imported as a library is left alone."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
