"""`loadscope serve`: the live console in a web browser, through textual-serve.

Every browser tab that opens the page starts its own `loadscope console` process with the
console arguments given here; closing the tab ends that session.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from ._errors import EXIT_OK, UsageError

SERVE_TITLE = "loadscope console"


def console_arguments(args: argparse.Namespace) -> list[str]:
    arguments = list(args.console_args)
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    if not arguments:
        raise UsageError("serve: give the console's arguments: runbooks or a URL (and -c, -d, ...)")
    return arguments


def check_console_arguments(arguments: list[str]) -> None:
    """Bad console arguments are exit 2 now, not an error page in every browser later."""
    from ._args import build_parser
    from ._options import adopt_runbook_phases, load_plan
    from ._run import build_scenario, check_descriptors
    from ._thresholds import Thresholds

    parsed = build_parser().parse_args(["console", *arguments])
    if parsed.metrics_port is not None:
        raise UsageError("serve: --metrics-port would be taken by every browser session; drop it")
    plan = load_plan(parsed, None)
    check_descriptors(plan.config)
    adopt_runbook_phases(plan, build_scenario(plan.spec, quiet=False))
    Thresholds.compile(parsed.threshold)


def console_command(arguments: list[str]) -> str:
    """The shell command textual-serve runs for each browser session."""
    return shlex.join([sys.executable, "-m", "loadscope", "console", *arguments])


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise UsageError(f"serve: --port {args.port} is not a port (1-65535)")
    arguments = console_arguments(args)
    check_console_arguments(arguments)
    from textual_serve.server import Server

    os.environ["LOADSCOPE_FORCE_CONSOLE"] = "1"  # the console's stdout is the browser's pipe
    server = Server(console_command(arguments), host=args.host, port=args.port, title=SERVE_TITLE)
    try:
        server.serve()
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        raise UsageError(f"serve: cannot listen on {where}: {exc.strerror}") from None
    return EXIT_OK
