"""One frozen, typed plan per command, built here from the parsed command line.

This is the only module that reads argparse's namespace: it copies the attributes a command
has into typed flags (`LoadFlags`, `Outputs`, ...), validates them into a plan, and the command
bodies work from the plan alone.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ._errors import UsageError
from ._loadt import LoadtFigures, LoadtFlags, loadt_plan
from ._options import LoadFlags, LoadPlan, duration, load_plan
from ._outputs import Outputs, check_stdout
from ._thresholds import AbortRule, Thresholds

T = TypeVar("T")


@dataclass(frozen=True)
class RunPlan:
    """`run`, `console` and `loadt`: what to load, how hard, and where the results go."""

    command: str
    load: LoadPlan
    outputs: Outputs
    thresholds: Thresholds
    abort: AbortRule | None = None  # --abort-on-fail: a failing threshold stops the run
    loadt: LoadtFigures | None = None  # runn's own figures, for loadt's block and JSON
    label: str | None = None  # the console's title (the demo names its runbook)

    def with_load(self, load: LoadPlan) -> RunPlan:
        return dataclasses.replace(self, load=load)


@dataclass(frozen=True)
class ThresholdFlags:
    threshold: tuple[str, ...] = ()
    abort_on_fail: bool = False
    abort_grace: str | None = None


@dataclass(frozen=True)
class DemoPlan:
    story: str = "basic"
    headless: bool = False
    concurrency: int | None = None
    duration: str | None = None
    http3: bool = False
    format: str = "text"
    out: str | None = None
    save_dir: str | None = None


@dataclass(frozen=True)
class WatchPlan:
    address: str
    duration: float | None = None
    headless: bool = False


@dataclass(frozen=True)
class ComparePlan:
    base: str
    new: str
    format: str = "text"
    threshold: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServePlan:
    console: RunPlan
    console_args: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8000


@dataclass(frozen=True)
class TargetFlags:
    port: int = 8080
    tls: bool = False
    tls_port: int = 8443
    h2c: bool = False
    http3_port: int | None = None
    workers: int = 1
    keepalive_timeout: float | None = None
    always_close: bool = False
    unix_socket: str | None = None


Plan = RunPlan | DemoPlan | WatchPlan | ComparePlan | ServePlan | TargetFlags


def typed(cls: type[T], args: argparse.Namespace) -> T:
    """The attributes of `args` that `cls` has (lists as tuples); the rest keep cls's defaults."""
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(args).items()
        if name in names
    }
    return cls(**values)


def command_plan(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Plan:
    """The plan of the command `args` were parsed for."""
    command = args.command or "demo"
    if command in ("run", "console"):
        return run_plan(command, args, env)
    if command in ("loadt", "loadtest"):
        return _loadt(args)
    if command == "demo":
        return typed(DemoPlan, args)
    if command == "watch":
        return _watch(args)
    if command == "compare":
        return typed(ComparePlan, args)
    if command == "serve":
        return _serve(args)
    if command == "target":
        return typed(TargetFlags, args)
    raise UsageError(f"'{command}' is not available yet")


def parse_plan(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Plan:
    """A command line to its plan, as `loadscope` reads it (for the demo, serve and tests)."""
    from ._args import attach_negative_values, build_parser

    return command_plan(build_parser().parse_args(attach_negative_values(list(argv))), env)


def run_plan(
    command: str, args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> RunPlan:
    load = load_plan(typed(LoadFlags, args), dict(env) if env is not None else None)
    return RunPlan(
        command=command,
        load=load,
        outputs=_outputs(command, args),
        thresholds=Thresholds.compile(list(args.threshold)),
        abort=_abort_rule(typed(ThresholdFlags, args)),
    )


def _loadt(args: argparse.Namespace) -> RunPlan:
    flags = typed(LoadtFlags, args)
    load, figures = loadt_plan(flags)
    return RunPlan(
        command="loadt",
        load=load,
        outputs=_outputs("loadt", args),
        thresholds=Thresholds.compile(list(args.threshold)),
        abort=_abort_rule(typed(ThresholdFlags, args)),
        loadt=figures,
    )


def _outputs(command: str, args: argparse.Namespace) -> Outputs:
    outputs = typed(Outputs, args)
    if command == "loadt":  # runn's block always; -q is not one of runn's flags
        outputs = dataclasses.replace(outputs, quiet=False)
    check_stdout(command, outputs)
    return outputs


def _abort_rule(flags: ThresholdFlags) -> AbortRule | None:
    if not flags.abort_on_fail:
        if flags.abort_grace is not None:
            raise UsageError("--abort-grace delays --abort-on-fail; add --abort-on-fail")
        return None
    if not any(text.strip() for text in flags.threshold):
        raise UsageError("--abort-on-fail stops the run when a --threshold fails; give one")
    grace = duration(flags.abort_grace, "--abort-grace") if flags.abort_grace else 0.0
    if grace < 0:
        raise UsageError("--abort-grace cannot be negative")
    return AbortRule(grace=grace)


def _watch(args: argparse.Namespace) -> WatchPlan:
    run_for = duration(args.duration, "-d/--duration") if args.duration else None
    if run_for is not None and run_for <= 0:
        raise UsageError("-d/--duration must be more than 0")
    return WatchPlan(args.address, run_for, args.headless)


def _serve(args: argparse.Namespace) -> ServePlan:
    if not 0 < args.port < 65536:
        raise UsageError(f"serve: --port {args.port} is not a port (1-65535)")
    arguments = list(args.console_args)
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    if not arguments:
        raise UsageError("serve: give the console's arguments: runbooks or a URL (and -c, -d, ...)")
    console = parse_plan(["console", *arguments])
    assert isinstance(console, RunPlan)
    if console.outputs.metrics_port is not None:
        raise UsageError("serve: --metrics-port would be taken by every browser session; drop it")
    return ServePlan(console, tuple(arguments), args.host, args.port)
