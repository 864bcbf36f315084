"""One control surface: typed commands, one dispatcher, and the same results from a session in
this process, in a child process and over local workers; errors reach the user."""

from __future__ import annotations

import asyncio
import multiprocessing
from dataclasses import dataclass, field
from typing import Any

import pytest

from loadscope.engine import (
    Abort,
    Command,
    ControlError,
    Controls,
    EngineProcess,
    HttpVersion,
    Pause,
    ResetStats,
    Resume,
    ReuseMode,
    ScenarioSpec,
    Session,
    SessionConfig,
    SetConcurrency,
    SetHttpVersion,
    SetRate,
    SetReuseMode,
    Snapshot,
    Stop,
    UrlScenario,
    WorkerController,
    apply,
)
from loadscope.engine.control import LocalPool, WorkerPool
from loadscope.engine.session import describe
from loadscope.engine.target import TargetProcess
from loadscope.tui.controller import ScriptedController

from .control_sequence import EXPECTED, WAIT, run_sequence

EVERY_COMMAND = (
    SetConcurrency(3),
    SetRate(2.5),
    SetReuseMode(ReuseMode.NONE),
    SetHttpVersion(HttpVersion.HTTP2),
    Pause(),
    Resume(),
    ResetStats(),
    Stop(),
    Abort(),
)
EVERY_CALL = [
    ("set_concurrency", (3,)),
    ("set_rate", (2.5,)),
    ("set_reuse_mode", (ReuseMode.NONE,)),
    ("set_http_version", (HttpVersion.HTTP2,)),
    ("pause", ()),
    ("resume", ()),
    ("reset_stats", ()),
    ("stop", ()),
    ("abort", ()),
]


@dataclass
class Recorder:
    """Controls that write down each call."""

    calls: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)

    def set_concurrency(self, n: int) -> None:
        self.calls.append(("set_concurrency", (n,)))

    def set_rate(self, rate: float) -> None:
        self.calls.append(("set_rate", (rate,)))

    def set_reuse_mode(self, mode: ReuseMode | str) -> None:
        self.calls.append(("set_reuse_mode", (mode,)))

    def set_http_version(self, version: HttpVersion | str) -> None:
        self.calls.append(("set_http_version", (version,)))

    def pause(self) -> None:
        self.calls.append(("pause", ()))

    def resume(self) -> None:
        self.calls.append(("resume", ()))

    def reset_stats(self) -> None:
        self.calls.append(("reset_stats", ()))

    def stop(self) -> None:
        self.calls.append(("stop", ()))

    def abort(self) -> None:
        self.calls.append(("abort", ()))

    def snapshot(self) -> Snapshot | None:
        return None


def test_each_command_is_the_call_it_names() -> None:
    recorder = Recorder()
    for command in EVERY_COMMAND:
        apply(command, recorder)
    assert recorder.calls == EVERY_CALL
    scripted = ScriptedController([])
    for command in EVERY_COMMAND:
        apply(command, scripted)
    assert scripted.calls == EVERY_CALL  # the console's controller is the same surface


def test_every_controller_is_controls() -> None:
    for kind in (Session, EngineProcess, WorkerController, ScriptedController, Recorder):
        assert issubclass(kind, Controls), kind


def test_a_bad_value_fails_where_it_is_asked_for() -> None:
    with pytest.raises(ValueError, match="whole number"):
        SetConcurrency(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be a number"):
        SetRate("fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SetReuseMode("sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ScriptedController([]).set_http_version("http4")
    assert SetConcurrency(-4).n == 0 and SetConcurrency(7.0).n == 7  # type: ignore[arg-type]
    assert describe(SetReuseMode(ReuseMode.PER_VU)) == "set_reuse_mode per-vu"


def test_what_is_not_a_command_is_an_error() -> None:
    with pytest.raises(ControlError, match="not a control"):
        apply("set_concurrency", Recorder())  # type: ignore[arg-type]
    process = EngineProcess(ScenarioSpec(url="http://127.0.0.1:9/"), SessionConfig())
    with pytest.raises(ControlError, match="not a control"):
        process.send(("set_concurrency", (3,)))  # type: ignore[arg-type]


def test_a_child_that_cannot_be_reached_is_an_error() -> None:
    process = EngineProcess(ScenarioSpec(url="http://127.0.0.1:9/"), SessionConfig())
    with pytest.raises(ControlError, match="not running"):
        process.set_concurrency(3)  # never started
    ours, theirs = multiprocessing.Pipe(duplex=True)
    theirs.close()  # the child has gone
    process._conn = ours
    with pytest.raises(ControlError, match="set_concurrency 3: the engine process cannot be"):
        process.set_concurrency(3)
    assert process.finished and process.exit_message is not None
    assert process.exit_message.startswith("the engine process cannot be reached")
    process.stop()  # nothing left to stop: how it ended is the exit message, said once
    ours.close()


class _Gone:
    """A worker whose process has gone."""

    def __init__(self) -> None:
        self.sent: list[object] = []
        self.finished = False

    def send(self, command: object) -> None:
        self.sent.append(command)
        if self.finished:
            raise ControlError("the engine process cannot be reached: Broken pipe")


def test_workers_split_the_level_and_name_the_worker_that_cannot_be_reached() -> None:
    controller = WorkerController(
        ScenarioSpec(url="http://127.0.0.1:9/"), SessionConfig(), workers=2
    )
    first, second = _Gone(), _Gone()
    controller.handles = [first, second]  # type: ignore[list-item]
    controller.set_concurrency(5)
    assert first.sent == [SetConcurrency(3)] and second.sent == [SetConcurrency(2)]
    second.finished = True
    with pytest.raises(ControlError, match=r"^worker 2: the engine process cannot be reached"):
        controller.pause()
    assert first.sent[-1] == Pause()  # the others still got it


def test_the_child_refuses_in_one_line_and_names_no_command_twice() -> None:
    from loadscope.engine.control._runtime import apply_control

    session = Session(SessionConfig(), UrlScenario("http://127.0.0.1:9/"))
    assert apply_control(session, ("set_concurrency", 3)) == "not a control: ('set_concurrency', 3)"
    assert apply_control(session, SetRate(3)) == (
        "set_rate needs an open-model session (started with a rate)"
    )
    assert apply_control(session, SetConcurrency(2)) is None and session.concurrency == 2


@pytest.mark.slow
async def test_in_process(target: TargetProcess) -> None:
    session = Session(SessionConfig(concurrency=1), UrlScenario(f"{target.http_url}/"))
    running = asyncio.create_task(session.run())

    async def finish() -> Snapshot:
        apply(Stop(), session)
        await asyncio.wait_for(running, WAIT)
        return session.snapshot()

    observed = await run_sequence(session, session.snapshot, lambda: [], finish)
    assert observed == EXPECTED


@pytest.mark.slow
async def test_in_a_child_process(target: TargetProcess) -> None:
    spec = ScenarioSpec(url=f"{target.http_url}/")
    process = EngineProcess(spec, SessionConfig(concurrency=1))
    process.start()

    async def finish() -> Snapshot:
        process.stop()
        final = await asyncio.to_thread(process.wait_final, WAIT)
        assert final is not None, process.exit_message
        return final

    try:
        observed = await run_sequence(process, process.updates, lambda: process.errors, finish)
    finally:
        process.close()
    assert observed == EXPECTED
    with pytest.raises(ControlError, match="it has finished"):
        process.set_concurrency(2)  # the run is over: said, not dropped
    process.stop()  # stopping what has stopped is nothing to do


async def run_on_workers(target: TargetProcess, pool: WorkerPool) -> None:
    spec = ScenarioSpec(url=f"{target.http_url}/")
    controller = WorkerController(spec, SessionConfig(concurrency=1), workers=2, pool=pool)
    controller.start()

    async def finish() -> Snapshot:
        controller.stop()
        final = await asyncio.to_thread(controller.wait_final, WAIT)
        assert final is not None, controller.exit_message
        return final

    try:
        ready = await asyncio.to_thread(controller.wait_ready, 180.0)
        assert ready, controller.exit_message
        observed = await run_sequence(
            controller, controller.updates, lambda: controller.errors, finish
        )
    finally:
        controller.close()
    assert observed == EXPECTED


@pytest.mark.slow
async def test_over_local_workers(target: TargetProcess) -> None:
    await run_on_workers(target, LocalPool(pin=False))


class _Unreachable(ScriptedController):
    """A console's controller whose engine can no longer be reached."""

    def send(self, command: Command) -> None:
        super().send(command)
        raise ControlError(f"{describe(command)}: the engine process cannot be reached: gone")


async def test_the_console_says_a_command_that_did_not_reach_the_engine() -> None:
    from textual.pilot import Pilot

    from loadscope.tui.app import ConsoleOptions, LoadscopeApp

    from .fake_snapshots import make_snapshot
    from .reports import report_of

    class Console(LoadscopeApp):
        said: list[str] = []

        def notify(self, message: str, **options: Any) -> None:  # type: ignore[override]
            self.said.append(message)
            super().notify(message, **options)

    controller = _Unreachable([make_snapshot(30, concurrency=10)])
    app = Console(
        controller,
        ConsoleOptions(label="unreachable", concurrency=10),
        lambda snapshot: ("report", report_of(snapshot)),
        poll_seconds=0.2,
    )
    expected = "set_concurrency 11: the engine process cannot be reached: gone"

    async def said(pilot: Pilot) -> bool:
        for _ in range(200):
            if expected in app.said:
                return True
            await pilot.pause(0.05)
        return False

    async with app.run_test() as pilot:
        await pilot.press("plus")
        assert await said(pilot), app.said
        assert controller.calls[-1] == ("set_concurrency", (11,))
        assert app.is_running  # said, and the console goes on
