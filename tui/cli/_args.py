"""The argument parser: `loadscope run|loadt|console|demo|target|watch|compare|serve`."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import NoReturn

from ...engine import ReuseMode
from ._arg_types import MAX_PORT, MAX_RATE, MAX_VUS, finite, whole
from ._args_runn import add_runn_grpc, add_runn_runbook_flags, add_runn_selection
from ._mix import add_mix_option
from ._network import add_network_options
from ._request_log import add_request_log_option
from ._target_lists import add_target_list_options

DEFAULT_SAVE_DIR = "loadscope-reports"
EPILOG = "Exit codes: 0 ok, 1 threshold failed, 2 bad input or target unreachable, 130 interrupted."
# Each command lists only the codes it can give: no thresholds, no exit 1; no load, no target.
TARGET_EPILOG = (
    "Exit codes: 0 stopped, 2 bad input (e.g. a port in use) or a worker process died, "
    "130 interrupted."
)
DEMO_EPILOG = "Exit codes: 0 ok, 2 bad input or the built-in target not answering, 130 interrupted."
WATCH_EPILOG = "Exit codes: 0 ok, 2 bad input, 130 interrupted."
COMPARE_EPILOG = (
    "Exit codes: 0 ok, 1 threshold failed, 2 bad input (e.g. a report that cannot be read), "
    "130 interrupted."
)
SERVE_EPILOG = "Exit codes: 0 stopped, 2 bad input (e.g. a port in use), 130 interrupted."
RUN_EXAMPLES = """\
examples:
  loadscope run http://127.0.0.1:8080/ -c 50 -d 30s
  loadscope run http://127.0.0.1:8080/users -X POST --body @user.json -H 'Accept: text/plain'
  loadscope run login.yml users.yml --rate 200 --max-vus 50 -d 1m --threshold 'p99 < 200'
  loadscope run books/*.yml --stages 30s:50,1m:200,30s:0 --format json --out report.json\
"""


LOCAL_WORKERS_PER_CORE = 4  # --workers beyond this many per core only contend


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 through our own handler."""

    def error(self, message: str) -> NoReturn:
        from ._errors import UsageError

        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: None = None
    ) -> argparse.Namespace:
        """Unknown flags are reported by the command they were given to, with its help."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(parsed, "command", None)
            prog = f"{self.prog} {command}" if command else self.prog
            from ._errors import UsageError

            message = f"unrecognized arguments: {' '.join(extras)}"
            raise UsageError(f"{prog}: {message} (see {prog} --help)")
        return parsed


NEGATIVE_VALUE = re.compile(r"-\d")
OPTION = re.compile(r"--?[A-Za-z][\w-]*")


def attach_negative_values(arguments: list[str]) -> list[str]:
    """`-d -1s` as `-d-1s`: argparse takes `-1s` for an unknown flag and says "expected one
    argument"; attached, the flag's own check says what is wrong with the value."""
    joined: list[str] = []
    for argument in arguments:
        previous = joined[-1] if joined else ""
        if NEGATIVE_VALUE.match(argument) and OPTION.fullmatch(previous):
            joined[-1] = (
                f"{previous}={argument}" if previous.startswith("--") else previous + argument
            )
        else:
            joined.append(argument)
    return joined


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="loadscope",
        description="An interactive load console for HTTP services. "
        "With no command, runs the demo: a built-in target and the console.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_run(commands)
    _add_console(commands)
    _add_loadt(commands)
    _add_demo(commands)
    _add_target(commands)
    _add_watch(commands)
    _add_compare(commands)
    _add_serve(commands)
    return parser


def _add_run(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = commands.add_parser(
        "run",
        help="run a load test headless and print a report",
        description="Run runbooks (or one URL) under load and print a report.\n"
        "A URL instead of a runbook is a one-step runbook.",
        epilog=RUN_EXAMPLES + "\n\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_load_options(run, default_duration="10s")
    add_target_list_options(run.add_argument_group("target lists"))
    add_mix_option(run.add_argument_group("scenario mix"))
    add_worker_options(run)
    add_report_options(run)
    add_metrics_options(run)


def _add_console(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    console = commands.add_parser(
        "console",
        help="open the live console on runbooks or a URL",
        description="The live dashboard: watch rps, latency and connections while you turn the "
        "knobs. Without -d it runs until you press q.",
        epilog=EPILOG,
    )
    add_load_options(console, default_duration=None)
    add_worker_options(console)
    add_report_options(
        console, text_format=False, quiet=False, save_dir=True, to_file="to FILE (not -)"
    )
    add_metrics_options(console)


def _add_loadt(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    loadt = commands.add_parser(
        "loadt",
        aliases=["loadtest"],
        help="a drop-in for `runn loadt`",
        description="Load test runbooks with runn loadt's flags, defaults and report. "
        "PATH_PATTERN is a runbook file or a glob ('books/**/*.yml'), as in runn.",
        epilog=EPILOG,
    )
    loadt.add_argument(
        "books", nargs="+", metavar="PATH_PATTERN", help="runbook files or glob patterns"
    )
    loadt.add_argument(
        "--load-concurrent",
        type=whole(-MAX_VUS, MAX_VUS),
        default=1,
        metavar="N",
        help="concurrent virtual users; 0 = unlimited under --max-rps (default 1)",
    )
    loadt.add_argument(
        "--duration", default="10sec", metavar="DURATION", help="load duration (default 10sec)"
    )
    loadt.add_argument(
        "--warm-up",
        default=None,
        metavar="DURATION",
        help="warm-up before measuring; left out of the report; none with --iterations, "
        "whose N iterations all count (default 5sec)",
    )
    loadt.add_argument(
        "--max-rps",
        type=whole(-int(MAX_RATE), int(MAX_RATE)),
        default=1,
        metavar="N",
        help="cap on runbook iterations started per second; 0 = unlimited (default 1)",
    )
    loadt_http = loadt.add_argument_group("http")
    add_limit_options(loadt_http)
    add_version_options(loadt_http)
    add_runbook_options(loadt.add_argument_group("runbook"))
    add_runn_selection(loadt.add_argument_group("runn: which runbooks"))
    add_runn_runbook_flags(loadt.add_argument_group("runn: how runbooks run"))
    add_runn_grpc(loadt.add_argument_group("runn: gRPC (accepted; loadscope runs HTTP only)"))
    add_worker_options(loadt)
    add_report_options(loadt, quiet=False)
    add_metrics_options(loadt)


def _add_demo(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = commands.add_parser(
        "demo",
        help="the built-in target plus the console on examples/demo.yml",
        description="Start the built-in target in its own process and open the console on the "
        "demo runbook. `demo churn` plays the connection-churn story; `demo churn --http3` "
        "plays it over QUIC, which leaves no TIME_WAIT behind.",
        epilog=DEMO_EPILOG,
    )
    demo.add_argument(
        "story",
        nargs="?",
        choices=["basic", "churn"],
        default="basic",
        help="which demo (default basic)",
    )
    demo.add_argument(
        "--headless", action="store_true", help="run without the console and print the report"
    )
    demo.add_argument(
        "-c",
        "--concurrency",
        type=whole(-MAX_VUS, MAX_VUS),
        default=None,
        metavar="N",
        help="virtual users (default 10; churn: 20)",
    )
    demo.add_argument(
        "-d",
        "--duration",
        default=None,
        help="stop after this long (default: until q; 10s headless)",
    )
    demo.add_argument(
        "--http3",
        action="store_true",
        help="HTTP/3 over QUIC: the target over TLS with its UDP port, the runbook with --http3 "
        "(the http3 extra: aioquic)",
    )
    add_report_options(
        demo,
        threshold=False,
        csv=False,
        quiet=False,
        html=False,
        save_dir=True,
        to_file="to FILE (- for stdout with --headless)",
    )


def _add_target(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    target = commands.add_parser(
        "target",
        help="run the built-in target server in the foreground",
        description="The built-in target: HTTP/1.1 and h2c (prior knowledge) on one port, and "
        "HTTPS with ALPN h2/http1.1 on a certificate generated at start.",
        epilog=TARGET_EPILOG,
    )
    target.add_argument(
        "--port",
        type=whole(0, MAX_PORT),
        default=8080,
        metavar="PORT",
        help="plain port (default 8080; 0 = any)",
    )
    target.add_argument("--tls", action="store_true", help="also serve HTTPS (h2 + http/1.1)")
    target.add_argument(
        "--tls-port",
        type=whole(0, MAX_PORT),
        default=8443,
        metavar="PORT",
        help="HTTPS port (default 8443; 0 = any)",
    )
    target.add_argument(
        "--h2c",
        action="store_true",
        help="accept only HTTP/2 with prior knowledge on the plain port",
    )
    target.add_argument(
        "--http3-port",
        type=whole(0, MAX_PORT),
        default=None,
        metavar="PORT",
        help="also serve HTTP/3 (QUIC) on this UDP port, with --tls (0 = the HTTPS port's "
        "number; the http3 extra: aioquic)",
    )
    target.add_argument(
        "--unix-socket",
        default=None,
        metavar="PATH",
        help="also listen on this unix socket (what the plain port speaks); a socket left "
        "there is replaced",
    )
    target.add_argument(
        "--workers", type=whole(1, 256), default=1, metavar="N", help="server processes (default 1)"
    )
    target.add_argument(
        "--keepalive-timeout",
        type=finite(30 * 86400.0),
        default=None,
        metavar="SECONDS",
        help="close idle keep-alive connections after this many seconds",
    )
    target.add_argument(
        "--always-close",
        action="store_true",
        help="answer every response with Connection: close (a churny server)",
    )


def _add_watch(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    watch = commands.add_parser(
        "watch",
        help="watch TCP states and new connections to a local port, with no load",
        description="The kernel view alone: sockets by state, new connections per second and "
        "TIME_WAIT for HOST:PORT, live, from the kernel's sock_diag netlink (what `ss` uses; "
        "/proc/net/tcp where netlink is not available).",
        epilog=WATCH_EPILOG,
    )
    watch.add_argument("address", metavar="HOST:PORT", help="e.g. 127.0.0.1:8080 or :5432")
    watch.add_argument("-d", "--duration", default=None, help="stop after this long")
    watch.add_argument(
        "--headless", action="store_true", help="print one line a second instead of the console"
    )


def add_load_options(parser: argparse.ArgumentParser, *, default_duration: str | None) -> None:
    parser.add_argument(
        "targets", nargs="*", metavar="BOOK|URL", help="runbook files, or one http(s) URL"
    )
    parser.add_argument("--url", help="the URL to load (same as giving it positionally)")
    load = parser.add_argument_group("load")
    load.add_argument(
        "-c",
        "--concurrency",
        type=whole(-MAX_VUS, MAX_VUS),
        default=10,
        metavar="N",
        help="virtual users, closed model (default 10)",
    )
    parser.set_defaults(default_duration=default_duration)
    load.add_argument(
        "-d",
        "--duration",
        default=None,
        help="how long to measure: 10s, 10sec, 1m30s, 500ms "
        + (f"(default {default_duration})" if default_duration else "(default: until stopped)")
        + "; --stages and --phases set the length themselves, so not with them",
    )
    load.add_argument(
        "--warm-up",
        default="0s",
        metavar="DURATION",
        help="load before measuring; left out of the report; not with --iterations, whose N "
        "iterations all count (default 0s)",
    )
    load.add_argument(
        "--stages",
        metavar="D:N,...",
        help="ramps, e.g. 30s:50,1m:200,30s:0 (VUs; iterations/s with --rate)",
    )
    load.add_argument(
        "--rate",
        type=finite(MAX_RATE),
        default=None,
        metavar="R",
        help="open model: start R iterations per second whatever the latency",
    )
    load.add_argument(
        "--max-vus",
        type=whole(-MAX_VUS, MAX_VUS),
        default=None,
        metavar="N",
        help="open model: VU cap; arrivals beyond it are dropped_iterations "
        "(default: -c or 100, the larger)",
    )
    load.add_argument(
        "--phases",
        metavar="MODE:D,...",
        help="A/B connection reuse in one run, e.g. shared:30s,per-iteration:30s",
    )
    load.add_argument(
        "--retire-at",
        choices=["iteration", "request"],
        default="iteration",
        help="when a VU removed by a ramp-down stops: after its iteration, or before its next "
        "request (default iteration)",
    )
    load.add_argument(
        "--grace",
        default="5s",
        metavar="DURATION",
        help="how long running iterations may finish at the end; a second Ctrl-C cuts them "
        "(default 5s)",
    )
    http = parser.add_argument_group("http")
    add_network_options(http)
    add_request_log_option(parser.add_argument_group("request log"))
    version = http.add_mutually_exclusive_group()
    version.add_argument("--http1", action="store_true", help="force HTTP/1.1")
    version.add_argument(
        "--http2",
        action="store_true",
        help="force HTTP/2 (h2 by ALPN on https, h2c prior knowledge on http)",
    )
    version.add_argument(
        "--h2c",
        action="store_true",
        help="HTTP/2 with prior knowledge on http:// (same as --http2 there)",
    )
    version.add_argument(
        "--http3",
        action="store_true",
        help="HTTP/3 over QUIC to the https:// URL's UDP port (the http3 extra: aioquic)",
    )
    http.add_argument(
        "--h2-connections",
        type=whole(-1000, 1000),
        default=1,
        metavar="N",
        help="HTTP/2 connections per origin, streams multiplexed (default 1)",
    )
    http.add_argument(
        "--reuse",
        choices=[m.value for m in ReuseMode],
        default="shared",
        help="connection reuse: shared pool (default), per-vu, per-iteration, none",
    )
    http.add_argument(
        "--max-idle",
        type=whole(-MAX_VUS, MAX_VUS),
        default=None,
        metavar="N",
        help="keep at most N idle connections per origin (default: sized to the "
        "concurrency); Go's http.Transport keeps 2",
    )
    http.add_argument(
        "--timeout", default="30s", metavar="DURATION", help="per-request timeout (default 30s)"
    )
    add_limit_options(http)
    http.add_argument(
        "-k", "--insecure", action="store_true", help="skip TLS certificate verification"
    )
    http.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="add a header to every request (repeatable)",
    )
    http.add_argument("-X", "--method", default="GET", help="URL form: the method (default GET)")
    http.add_argument(
        "--body",
        default=None,
        metavar="TEXT|@FILE",
        help="URL form: the request body; @FILE reads it from a file",
    )
    http.add_argument(
        "--follow-redirects",
        nargs="?",
        const=10,
        default=None,
        type=whole(0, 1000),
        metavar="N",
        help="URL form: follow up to N redirects (10 when N is left out), each hop counted as a "
        "request, more fail as too_many_redirects. Without it a redirect is the response "
        "(3xx counts as success). Runbooks follow up to 10, as runn",
    )
    http.add_argument(
        "--expect-status",
        default=None,
        metavar="CODES",
        help="URL form: statuses that count as success, e.g. 200,201,404 or 200-299; any "
        "other fails its iteration with error kind http_status (default 200-399). Runbooks "
        "decide with a `test`",
    )
    add_runbook_options(parser.add_argument_group("runbook"))


def add_version_options(group: argparse._ArgumentGroup) -> None:
    """loadscope's own protocol choice for `loadt` (runn has none: its client negotiates)."""
    version = group.add_mutually_exclusive_group()
    version.add_argument("--http1", action="store_true", help="force HTTP/1.1")
    version.add_argument("--http2", action="store_true", help="force HTTP/2 (h2 or h2c)")
    version.add_argument(
        "--http3", action="store_true", help="HTTP/3 over QUIC to https:// runners (aioquic)"
    )


def add_limit_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--connect-timeout",
        default="10s",
        metavar="DURATION",
        help="limit on TCP connect plus the TLS handshake (default 10s)",
    )
    group.add_argument(
        "--max-body",
        default="64MiB",
        metavar="SIZE",
        help="largest response body kept for the runbook's expressions, e.g. 10MB, 512KiB, "
        "1048576; past it the request fails as body_too_large (default 64MiB)",
    )
    group.add_argument(
        "--max-header-size",
        default="1MiB",
        metavar="SIZE",
        help="largest response header block; past it the request fails as header_too_large "
        "and its connection is closed (default 1MiB)",
    )


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("workers")
    group.add_argument(
        "--workers",
        default="1",
        metavar="N|auto",
        help="engine processes sharing the load, merged live; auto = one per core, the most "
        f"a machine runs well; locally at most {LOCAL_WORKERS_PER_CORE} per core (default 1)",
    )
    group.add_argument(
        "--cluster",
        default="local",
        metavar="local|ray|ray://HOST:PORT",
        help="where workers run: this machine (default), or Ray actors (RAY_ADDRESS or "
        "ray://HOST:PORT joins a cluster; plain ray starts a local one); needs loadscope[ray]",
    )
    group.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="leave local workers to the scheduler; by default each has a core of its own when "
        "there are enough",
    )


def add_runbook_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="KEY:VALUE",
        help="set a runbook var (repeatable)",
    )
    group.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="LABEL",
        help="run only runbooks with this label; repeat for any of several, or write "
        "'users and auth' (as runn)",
    )
    group.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop an iteration's runbooks at the first that fails (as runn); by default a "
        "failing runbook does not stop the next",
    )
    group.add_argument(
        "--scopes",
        action="append",
        default=[],
        metavar="SCOPE",
        help="runn's scopes, e.g. read:parent lets a runbook include files above its directory "
        "(repeatable, or comma-separated)",
    )
    group.add_argument(
        "--iterations",
        type=int,
        default=None,
        metavar="N",
        help="stop after N iterations in total, showing every step's outcome (as runn run); "
        "all N are measured: no warm-up",
    )


def add_report_options(
    parser: argparse.ArgumentParser,
    *,
    threshold: bool = True,
    text_format: bool = True,
    csv: bool = True,
    quiet: bool = True,
    html: bool = True,
    save_dir: bool = False,
    to_file: str = "to FILE or - for stdout",
) -> None:
    """The report flags, defined once; each command takes the ones that apply to it.
    `to_file`: where the output files may go (the console's terminal is its own: no `-`)."""
    out = parser.add_argument_group("report")
    if threshold:
        out.add_argument(
            "--threshold",
            action="append",
            default=[],
            metavar="EXPR",
            help="fail (exit 1) unless EXPR holds on the final report, e.g. "
            "'error_rate < 1 && p99 < 200' (repeatable); checked on the live numbers each "
            "second too, and the report says when each first failed",
        )
        out.add_argument(
            "--abort-on-fail",
            action="store_true",
            help="stop the run (within 2s, exit 1) as soon as a threshold fails on the live "
            "numbers; the report's aborted_by says which and when (k6's abortOnFail)",
        )
        out.add_argument(
            "--abort-grace",
            default=None,
            metavar="DURATION",
            help="with --abort-on-fail: let thresholds fail this long into the measured run "
            "before they stop it (k6's delayAbortEval; default 0s)",
        )
    if text_format:
        out.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="report on stdout (default text); json prints only the JSON report. An output "
            "file given as - (stdout) takes stdout instead: the text report then goes to stderr; "
            "json with a - output is an error",
        )
    out.add_argument(
        "--out",
        "--summary-json",
        dest="out",
        metavar="FILE",
        help=f"write the JSON report {to_file}, always, even when interrupted",
    )
    if csv:
        out.add_argument(
            "--csv",
            metavar="FILE",
            help=f"write the per-second timeline as CSV {to_file}, as it runs",
        )
    if html:
        out.add_argument(
            "--html",
            metavar="FILE",
            help=f"write a self-contained HTML report (summary, charts, tables) {to_file} at the "
            "end",
        )
    if save_dir:
        out.add_argument(
            "--save-dir",
            default=DEFAULT_SAVE_DIR,
            metavar="DIR",
            help=f"where the console saves reports (on stop and on s), created if missing "
            f"(default ./{DEFAULT_SAVE_DIR})",
        )
    if quiet:
        out.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            help="no progress or warnings on stderr; a one-line summary for text",
        )


def add_metrics_options(parser: argparse.ArgumentParser) -> None:
    """Prometheus metrics served while the session lives."""
    metrics = parser.add_argument_group("metrics")
    metrics.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics on http://HOST:PORT/metrics while the run lives",
    )
    metrics.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="the address --metrics-port listens on (default 127.0.0.1)",
    )


def _add_compare(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    compare = commands.add_parser(
        "compare",
        help="compare two JSON reports: better, worse or within noise",
        description="Compare two JSON reports (from --out): whole iterations (rate, failed "
        "share, latency), requests (rate, error share, latency) and connection numbers, each "
        "with its change and a verdict, and the steps. The names are run --threshold's: rps, "
        "error_rate, med, p90, p99 for iterations (runn's), req_rps, req_error_rate, req_p50, "
        "req_p90, req_p99 for requests.",
        epilog=COMPARE_EPILOG,
    )
    compare.add_argument("base", metavar="BASE.json", help="the report to compare against")
    compare.add_argument("new", metavar="NEW.json", help="the report of the change")
    compare.add_argument(
        "--format", choices=["text", "json"], default="text", help="output (default text)"
    )
    compare.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="EXPR",
        help="fail (exit 1) unless EXPR holds, e.g. 'error_rate_new < 1 && req_p99_change_pct < "
        "10' (repeatable; names: <metric>_base, _new, _change, _change_pct)",
    )


def _add_serve(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser(
        "serve",
        help="serve the live console in a web browser",
        description="Serve the console over HTTP with textual-serve: each browser that opens "
        "the page starts its own console session with the console arguments given.",
        epilog="example:\n  loadscope serve --port 8000 http://127.0.0.1:8080/ -c 20\n\n"
        + SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, metavar="PORT", help="the port (default 8000)"
    )
    serve.add_argument(
        "console_args",
        nargs=argparse.REMAINDER,
        metavar="CONSOLE ARGUMENTS",
        help="what `loadscope console` takes: runbooks or a URL, -c, -d, ...",
    )
