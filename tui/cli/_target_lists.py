"""`loadscope run --targets FILE|-` and `--targets-order`: vegeta's target lists."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import UsageError

if TYPE_CHECKING:
    from ...engine.control import ScenarioSpec
    from ...engine.session import TargetFeed
    from ._outcome import Outcome


TARGET_ORDERS = ("round-robin", "random")  # named here: --help must not import the engine


def add_target_list_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--targets",
        dest="targets_file",
        default=None,
        metavar="FILE|-",
        help="load the targets listed in FILE (or on stdin with -), in vegeta's format: "
        "'METHOD URL' lines, 'Name: value' headers, an optional '@body-file', blank lines "
        'between targets; or JSON lines {"method", "url", "header", "body" (base64)}. '
        "Each iteration sends the next target; each target is a row of the report",
    )
    group.add_argument(
        "--targets-order",
        choices=TARGET_ORDERS,  # the engine's (a test checks they agree)
        default="round-robin",
        help="which target each iteration takes (default round-robin)",
    )


@dataclass(frozen=True)
class TargetListFlags:
    """What a `--targets` run is given (the flags that must not be, too)."""

    path: str
    order: str
    given: tuple[str, ...]  # URLs or runbooks beside --targets: bad input
    body: str | None
    method: str
    has_vars: bool
    workers: str


def target_list_spec(
    flags: TargetListFlags, headers: tuple[tuple[str, str], ...], expect_status: str
) -> ScenarioSpec:
    """The spec of a `--targets` run; every target is read and checked before any load."""
    if flags.given:
        raise UsageError("give --targets or a URL or runbooks, not both")
    if flags.body is not None or flags.method.upper() != "GET":
        raise UsageError("-X/--method and --body are for the URL form; a target list sets its own")
    if flags.has_vars:
        raise UsageError("--var sets runbook vars; a target list has none")
    path = flags.path
    if path == "-" and flags.workers not in ("1", ""):
        raise UsageError("--targets - reads stdin in one process; give a file to use --workers")
    from ...engine.control import ScenarioSpec

    feed = read_target_list(path)
    return ScenarioSpec(
        targets=feed,
        targets_order=flags.order,
        headers=headers,
        expect_status=expect_status,
    )


def read_target_list(path: str) -> TargetFeed:
    from ...engine.session import TargetFeed, TargetListError, parse_targets

    try:
        if path == "-":
            return TargetFeed.from_stream(sys.stdin.fileno(), "stdin")
        file = Path(path)
        with file.open(encoding="utf-8", errors="replace") as lines:
            return TargetFeed(path, parse_targets(lines, path, file.parent))
    except TargetListError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"--targets {path}: {exc.strerror or exc}") from None


def note_target_list_error(spec: ScenarioSpec, outcome: Outcome) -> None:
    """A bad line that arrived on stdin during the run stopped it: exit 2 with that line."""
    if spec.targets is not None and spec.targets.error:
        outcome.write_failures.append(spec.targets.error)
