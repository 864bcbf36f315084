"""`loadscope serve`: the live console in a web browser, through textual-serve.

Every browser tab that opens the page starts its own `loadscope console` process with the
console arguments given here; closing the tab ends that session.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys

from ._errors import EXIT_OK, UsageError
from ._plan import ServePlan

SERVE_TITLE = "loadscope console"


def check_console_arguments(plan: ServePlan) -> None:
    """Bad console arguments are exit 2 now, not an error page in every browser later."""
    from ._options import adopt_runbook_phases
    from ._run import build_scenario, check_descriptors

    load = plan.console.load
    check_descriptors(load.config)
    adopt_runbook_phases(load, build_scenario(load.spec, quiet=False))


def console_command(arguments: tuple[str, ...]) -> str:
    """The shell command textual-serve runs for each browser session."""
    return shlex.join([sys.executable, "-m", "loadscope", "console", *arguments])


def check_port_free(host: str, port: int) -> None:
    """Fail now, before textual-serve prints "Serving on ...", if the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"serve: cannot listen on {host}:{port}: {reason}") from None


def cmd_serve(plan: ServePlan) -> int:
    check_console_arguments(plan)
    check_port_free(plan.host, plan.port)
    from textual_serve.server import Server

    os.environ["LOADSCOPE_FORCE_CONSOLE"] = "1"  # the console's stdout is the browser's pipe
    server = Server(console_command(plan.console_args), host=plan.host, port=plan.port,
                    title=SERVE_TITLE)  # fmt: skip
    try:
        server.serve()
    except OSError as exc:
        where = f"{plan.host}:{plan.port}"
        raise UsageError(f"serve: cannot listen on {where}: {exc.strerror}") from None
    return EXIT_OK
