"""`loadscope` and `loadscope demo`: the built-in target in its own process, plus the console
(or a headless run) on the demo runbook."""

from __future__ import annotations

import dataclasses
import sys
from importlib import resources
from pathlib import Path

from ...engine.target import TargetOptions, TargetProcess
from ._errors import UsageError
from ._outputs import check_outputs
from ._plan import DemoPlan, RunPlan, parse_plan

EXAMPLES = resources.files("loadscope.examples")
STORIES = {
    "basic": ("demo.yml", ["-c", "10"]),
    "churn": ("churn.yml", ["-c", "20", "--warm-up", "3s"]),  # its phases are in the runbook
}


def find_example(name: str) -> Path:
    """The demo runbooks ship inside the package, so an installed loadscope finds them anywhere."""
    book = Path(str(EXAMPLES / name))
    if not book.is_file():
        raise UsageError(f"the demo runbook {name} is missing from this installation ({book})")
    return book


def demo_arguments(args: DemoPlan, book: Path, story: str) -> list[str]:
    """The `run`/`console` command line the demo stands for."""
    _, defaults = STORIES[story]
    argv = [str(book), *defaults]
    if args.concurrency is not None:
        argv += ["-c", str(args.concurrency)]
    if args.duration is not None:
        argv += ["-d", args.duration]
    elif args.headless and story == "basic":
        argv += ["-d", "10s"]
    if story == "churn" or args.http3:
        argv += ["--insecure"]  # the target's certificate is self-signed, made at its start
    if args.http3:
        argv += ["--http3"]
    return argv


def demo_command(args: DemoPlan, book: Path, story: str) -> list[str]:
    """The whole `run ...` or `console ...` command line the demo stands for."""
    argv = demo_arguments(args, book, story)
    if args.headless:
        argv = ["run", *argv, "--format", args.format]
    else:
        argv = ["console", *argv]
        argv += ["--save-dir", args.save_dir] if args.save_dir else []
    return [*argv, "--out", args.out] if args.out else argv


def cmd_demo(demo: DemoPlan) -> int:
    book = find_example(STORIES[demo.story][0])
    argv = demo_command(demo, book, demo.story)
    plan = _run_plan(argv)  # bad flags are exit 2 before the target starts
    check_outputs(plan.outputs)
    if plan.command == "console":
        from ._console import ensure_terminal

        story = "" if demo.story == "basic" else f" {demo.story}"
        ensure_terminal(f"`loadscope demo{story} --headless`")
    with TargetProcess(target_options(demo)) as target:
        url = target.https_url or target.http_url
        udp = " (HTTP/3 on its UDP port)" if demo.http3 else ""
        print(f"built-in target on {url}{udp}", file=sys.stderr)
        plan = _run_plan(argv, {"TARGET": url})
        if plan.command == "run":
            from ._run import cmd_run

            return cmd_run(plan)
        from ._console import cmd_console

        return cmd_console(dataclasses.replace(plan, label=f"demo: {book.name}"))


def target_options(demo: DemoPlan) -> TargetOptions:
    """Churn runs over TLS, as handshakes are its story; HTTP/3 needs TLS and the UDP port."""
    tls = demo.story == "churn" or demo.http3
    return TargetOptions(tls=tls, http3_port=0 if demo.http3 else None)


def _run_plan(argv: list[str], env: dict[str, str] | None = None) -> RunPlan:
    plan = parse_plan(argv, env)
    assert isinstance(plan, RunPlan)  # the demo stands for a `run` or a `console`
    return plan
