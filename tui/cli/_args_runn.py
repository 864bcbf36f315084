"""runn loadt's own flags for `loadscope loadt`: which runbooks run, how they run, and the
gRPC family (accepted; an HTTP-only run ignores them)."""

from __future__ import annotations

import argparse

from ._arg_types import MAX_VUS, whole


def add_runn_selection(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--run",
        metavar="REGEXP",
        help="run only runbooks whose path matches (unanchored regular expression)",
    )
    group.add_argument(
        "--id",
        action="append",
        default=[],
        metavar="ID",
        help="run the runbooks whose ID starts with ID, in the order given (repeatable)",
    )
    group.add_argument(
        "--sample", type=whole(0, MAX_VUS), default=0, metavar="N", help="sample N runbooks"
    )
    group.add_argument(
        "--shuffle",
        default="off",
        metavar="on|off|SEED",
        help="randomize the order of the runbooks (default off)",
    )
    group.add_argument(
        "--random",
        type=whole(0, MAX_VUS),
        default=0,
        metavar="N",
        help="run N runbooks chosen at random (one may come more than once)",
    )
    group.add_argument(
        "--shard-n", type=whole(0, MAX_VUS), default=0, metavar="N", help="number of shards"
    )
    group.add_argument(
        "--shard-index",
        type=whole(-MAX_VUS, MAX_VUS),
        default=0,
        metavar="I",
        help="run shard I of --shard-n (every N-th runbook from the I-th)",
    )
    group.add_argument(
        "--concurrent",
        default="off",
        metavar="on|off|N",
        help="run up to N of an iteration's runbooks at once (on: as many as CPUs, as runn; "
        "runbooks sharing a concurrency: key still take turns)",
    )


def add_runn_runbook_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--debug", action="store_true", help="runn's debug output (ignored)")
    group.add_argument("--skip-test", action="store_true", help='skip "test:" sections')
    group.add_argument(
        "--skip-included",
        action="store_true",
        help="do not run on its own a runbook that another selected runbook includes",
    )
    group.add_argument(
        "--host-rules",
        action="append",
        default=[],
        metavar="'HOST ADDRESS,...'",
        help="connect to ADDRESS for HOST, sending HOST (as the runbook's hostRules)",
    )
    group.add_argument(
        "--env-file", metavar="FILE", help="KEY=VALUE lines for ${KEY} in the runbooks"
    )
    group.add_argument(
        "--capture", metavar="DIR", help="runn's capture of run results (checked, not written)"
    )
    group.add_argument(
        "--wait-timeout",
        default="10sec",
        metavar="DURATION",
        help="runn's wait for cleanup at the end (accepted; loadscope's is --grace)",
    )
    group.add_argument(
        "--cache-dir", metavar="DIR", help="runn's cache of remote runbooks (accepted, ignored)"
    )
    group.add_argument(
        "--retain-cache-dir", action="store_true", help="keep --cache-dir (accepted, ignored)"
    )
    group.add_argument(
        "--runner",
        action="append",
        default=[],
        metavar="KEY:DSN",
        help="set or replace runner KEY of each runbook, e.g. req:http://127.0.0.1:8080 "
        "(repeatable)",
    )
    group.add_argument(
        "--overlay",
        action="append",
        default=[],
        metavar="FILE",
        help="lay a runbook's values over each runbook: its runners and vars win, its steps "
        "come after, its desc/if/loop/interval replace (repeatable, in order)",
    )
    group.add_argument(
        "--underlay",
        action="append",
        default=[],
        metavar="FILE",
        help="lay a runbook's values under each runbook: they fill only what it lacks, its "
        "steps come first (repeatable, the first lowest)",
    )
    group.add_argument(
        "--http-openapi3",
        action="append",
        default=[],
        metavar="[KEY:]FILE",
        help="check requests and responses of runner KEY (of every HTTP runner without KEY) "
        "against an OpenAPI v3 document: path, method, status, JSON body (repeatable)",
    )


def add_runn_grpc(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--grpc-no-tls", action="store_true", help="gRPC runners without TLS")
    for flag in ("proto", "import-path", "buf-dir", "buf-lock", "buf-config", "buf-module"):
        group.add_argument(
            f"--grpc-{flag}",
            action="append",
            default=[],
            metavar=flag.split("-")[-1].upper(),
            help=f"gRPC runners' {flag.replace('-', ' ')}",
        )
