#!/usr/bin/env python3
"""Screenshots of the console during real runs against the built-in target.

    python screenshots/make_screenshots.py            # all of them, ~2 minutes
    python screenshots/make_screenshots.py dashboard  # just one

Each is saved as SVG (what Textual writes) and PNG (rsvg-convert, Debian's librsvg2-bin). rsvg
drops a text run's leading spaces, which shifts right-aligned text; the PNG is made from a copy
with those spaces turned into an x offset, so it matches what a terminal shows.
"""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from loadscope.engine import HttpVersion, ReuseMode, SessionConfig  # noqa: E402
from loadscope.engine.control import EngineProcess, ScenarioSpec  # noqa: E402
from loadscope.engine.target import TargetOptions, TargetProcess  # noqa: E402
from loadscope.tui.app import ConsoleOptions, LoadscopeApp  # noqa: E402
from loadscope.tui.cli._console import report_renderer, setup_child_session  # noqa: E402
from loadscope.tui.cli._options import LoadPlan, adopt_runbook_phases  # noqa: E402
from loadscope.tui.cli._outputs import Outputs  # noqa: E402
from loadscope.tui.cli._plan import RunPlan  # noqa: E402
from loadscope.tui.cli._run import live_check  # noqa: E402
from loadscope.tui.cli._thresholds import Thresholds  # noqa: E402
from loadscope.tui.watch_app import WatchApp  # noqa: E402

Script = Callable[[Pilot], Awaitable[None]]
KEEP_REPORTS = {"churn-summary"}
TEXT = re.compile(
    r'(<text\b[^>]*?\bx=")([\d.]+)("[^>]*?\btextLength=")([\d.]+)("[^>]*>)(.*?)(</text>)'
)


def shift_leading_spaces(svg: str) -> str:
    def one(match: re.Match[str]) -> str:
        plain = html.unescape(match.group(6))
        stripped = plain.lstrip("\u00a0 ")
        lead = len(plain) - len(stripped)
        if not lead or not stripped:
            return match.group(0)
        width = float(match.group(4)) / len(plain)
        x = float(match.group(2)) + lead * width
        length = float(match.group(4)) - lead * width
        text = html.escape(stripped, quote=False).replace("\u00a0", "&#160;")
        head = f"{match.group(1)}{x:.1f}{match.group(3)}{length:.1f}{match.group(5)}"
        return f"{head}{text}{match.group(7)}"

    return TEXT.sub(one, svg)


def to_png(svg_path: Path) -> None:
    if not shutil.which("rsvg-convert"):
        print("rsvg-convert not found (apt-get install librsvg2-bin): SVG only", file=sys.stderr)
        return
    fixed = svg_path.with_suffix(".fixed.svg")
    fixed.write_text(shift_leading_spaces(svg_path.read_text()))
    subprocess.run(
        ["rsvg-convert", str(fixed), "-o", str(svg_path.with_suffix(".png"))], check=True
    )
    fixed.unlink()


async def shoot(
    name: str,
    spec: ScenarioSpec,
    config: SessionConfig,
    script: Script,
    size: tuple[int, int] = (120, 40),
    label: str = "",
    thresholds: tuple[str, ...] = (),
) -> None:
    plan = adopt_runbook_phases(LoadPlan(spec, config), spec.build())  # x-loadscope phases
    config = plan.config  # with the phases' first reuse mode and their length
    engine = EngineProcess(spec, config, setup=_setup(plan))
    options = ConsoleOptions(
        label=label,
        save_dir=Path("/tmp"),
        summary_json=f"/tmp/loadscope-{name}.json",
        open_model=config.open_model,
        concurrency=config.concurrency,
        rate=config.rate or 0.0,
        reuse_mode=config.reuse_mode.value,
    )
    run = RunPlan("console", plan, Outputs(), Thresholds.compile(list(thresholds)))
    live = live_check(run)  # as `loadscope console --threshold` checks them
    render = report_renderer(plan, run.thresholds, live.thresholds)
    app = LoadscopeApp(engine, options, render, live=live if thresholds else None)
    engine.start()
    try:
        async with app.run_test(size=size) as pilot:
            await script(pilot)
            path = HERE / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(HERE))
            to_png(path)
            print(f"saved {path.relative_to(ROOT)} and .png")
    finally:
        engine.stop()
        engine.wait_final(10)
        engine.close()
    if name in KEEP_REPORTS:  # the README quotes these numbers: they come from this very run
        shutil.copyfile(f"/tmp/loadscope-{name}.json", HERE / f"{name}.json")
        print(f"saved {(HERE / f'{name}.json').relative_to(ROOT)}, the report in the picture")


def _setup(plan: LoadPlan):
    import functools

    return functools.partial(setup_child_session, plan)


def wait(seconds: float) -> Script:
    """Until the session has run `seconds` (its own clock): a busy machine starts the engine
    late, and a picture must show the run it describes."""

    async def script(pilot: Pilot) -> None:
        app = pilot.app
        assert isinstance(app, LoadscopeApp)
        deadline = time.monotonic() + seconds * 3 + 60
        while app.snapshot is None or app.snapshot.session_s < seconds:
            assert time.monotonic() < deadline, f"the session did not run {seconds}s"
            await pilot.pause(0.2)

    return script


def summary_shown(timeout: float = 60) -> Script:
    """Until the run has stopped (by q, or at its own end) and the summary is on screen."""

    async def script(pilot: Pilot) -> None:
        from loadscope.tui.screens.summary import SummaryScreen

        deadline = time.monotonic() + timeout
        while not isinstance(pilot.app.screen, SummaryScreen):
            assert time.monotonic() < deadline, f"no summary within {timeout:g} s"
            await pilot.pause(0.2)
        await pilot.pause(0.5)

    return script


def pause(seconds: float) -> Script:
    async def script(pilot: Pilot) -> None:
        await pilot.pause(seconds)

    return script


def then(*steps: Script) -> Script:
    async def script(pilot: Pilot) -> None:
        for step in steps:
            await step(pilot)

    return script


def press(*keys: str) -> Script:
    async def script(pilot: Pilot) -> None:
        await pilot.press(*keys)

    return script


async def shoot_watch(target: TargetProcess) -> None:
    """`loadscope watch` on the target's TLS port while a per-iteration load churns it."""
    from loadscope.engine import Session, UrlScenario
    from loadscope.engine.diagnostics.kernel import SocketWatcher

    port = (target.https_url or "").rsplit(":", 1)[1]
    app = WatchApp(SocketWatcher.for_address(f"127.0.0.1:{port}"))
    session = Session(
        SessionConfig(concurrency=10, insecure=True, reuse_mode=ReuseMode.PER_ITERATION),
        UrlScenario(f"{target.https_url}/json"),
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(2)
        await session.start()
        await pilot.pause(14)
        await session.shutdown()
        await pilot.pause(4)
        path = HERE / "watch.svg"
        app.save_screenshot(filename=path.name, path=str(HERE))
        to_png(path)
        print(f"saved {path.relative_to(ROOT)} and .png")


def churn_spec(target: TargetProcess) -> ScenarioSpec:
    book = str(ROOT / "examples/churn.yml")
    return ScenarioSpec(runbooks=(book,), env={"TARGET": target.https_url or ""})


def demo_spec(target: TargetProcess) -> ScenarioSpec:
    return ScenarioSpec(
        runbooks=(str(ROOT / "examples/demo.yml"),), env={"TARGET": target.http_url}
    )


async def main(only: set[str]) -> None:
    with TargetProcess(TargetOptions(tls=True, http3_port=0)) as target:
        shots = {
            "dashboard": lambda: shoot(
                "dashboard",
                demo_spec(target),
                SessionConfig(concurrency=10),
                then(wait(8), press("right_square_bracket"), wait(18)),
                label="examples/demo.yml",
            ),
            "dashboard-80x24": lambda: shoot(
                "dashboard-80x24",
                demo_spec(target),
                SessionConfig(concurrency=10),
                wait(8),
                size=(80, 24),
                label="examples/demo.yml",
            ),
            "help": lambda: shoot(
                "help",
                demo_spec(target),
                SessionConfig(concurrency=5),
                then(wait(3), press("question_mark"), pause(0.5)),
                label="examples/demo.yml",
            ),
            "summary": lambda: shoot(
                "summary",
                demo_spec(target),
                SessionConfig(concurrency=10),
                then(wait(6), press("q"), summary_shown()),
                label="examples/demo.yml",
            ),
            "thresholds": lambda: shoot(
                "thresholds",
                demo_spec(target),
                SessionConfig(concurrency=10),
                wait(8),
                label="examples/demo.yml",
                thresholds=("error_rate < 1", "req_p99 < 0.05"),
            ),
            "tls-shared": lambda: shoot(
                "tls-shared",
                ScenarioSpec(url=f"{target.https_url}/json"),
                SessionConfig(rate=400, max_vus=40, insecure=True, http_version=HttpVersion.HTTP1),
                wait(12),
            ),
            "tls-per-iteration": lambda: shoot(
                "tls-per-iteration",
                ScenarioSpec(url=f"{target.https_url}/json"),
                SessionConfig(
                    rate=400,
                    max_vus=40,
                    insecure=True,
                    http_version=HttpVersion.HTTP1,
                    reuse_mode=ReuseMode.PER_ITERATION,
                ),
                wait(12),
            ),
            "churn": lambda: shoot(
                "churn",
                churn_spec(target),
                SessionConfig(concurrency=20, insecure=True, warm_up=3),
                wait(36),
                label="demo churn: examples/churn.yml",
            ),
            "churn-summary": lambda: shoot(
                "churn-summary",
                churn_spec(target),
                SessionConfig(concurrency=20, insecure=True, warm_up=3),
                summary_shown(240),  # the runbook's phases end the run
                label="demo churn: examples/churn.yml",
            ),
            "churn-http3": lambda: shoot(
                "churn-http3",
                churn_spec(target),
                SessionConfig(
                    concurrency=20, insecure=True, warm_up=3, http_version=HttpVersion.HTTP3
                ),
                wait(36),
                label="demo churn --http3: examples/churn.yml",
            ),
            "http3": lambda: shoot(
                "http3",
                ScenarioSpec(url=f"{target.https_url}/json"),
                SessionConfig(concurrency=20, insecure=True, http_version=HttpVersion.HTTP3),
                wait(12),
                label="HTTP/3 over QUIC (h: auto → 1.1 → 2 → 3)",
            ),
            "watch": lambda: shoot_watch(target),
        }
        for name, make in shots.items():
            if not only or name in only:
                await make()


if __name__ == "__main__":
    asyncio.run(main(set(sys.argv[1:])))
