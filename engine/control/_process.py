"""Running a session in its own process, so the console's drawing never slows the load.

The child runs the session on its own event loop and pushes a snapshot over a pipe a few times a
second; the parent sends commands back (`Command` values, applied by the one dispatcher).
`EngineProcess` implements `Controls` as plain synchronous calls that never block on the child;
a command that cannot reach the child raises `ControlError`, and one the child refuses comes
back in `errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import struct
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

from .._config import SessionConfig
from .._loop import run_event_loop
from ..metrics import Snapshot
from ..redact import add_secrets
from ..session import (
    Abort,
    Command,
    CommandControls,
    ControlError,
    Session,
    Stop,
    describe,
    is_command,
)
from ._runtime import WorkerRole, apply_control, build_session, take_snapshot
from ._spec import ScenarioSpec

PUSH_INTERVAL = 0.25  # controls feel immediate; panels still redraw once a second


@dataclass(frozen=True, slots=True)
class _Go:
    """To a worker that is ready: start the load now (with its fellow workers)."""


GO = _Go()


class EngineProcess(CommandControls):
    """A `Session` in a child process. Poll `updates()` (or `snapshot()`) from the UI's loop.

    With a `role` it is one worker of a split session (a `WorkerHandle`): the child builds the
    session, says it is `ready`, and starts the load only on `go()`, with its fellow workers.
    """

    def __init__(
        self,
        spec: ScenarioSpec,
        config: SessionConfig,
        *,
        push_interval: float = PUSH_INTERVAL,
        setup: Callable[[Session], None] | None = None,
        role: WorkerRole | None = None,
    ) -> None:
        """`setup(session)` runs in the child before the session starts (it must pickle)."""
        self.spec = spec
        self.config = config
        self.role = role
        self.node: str | None = None  # the host, once the child is ready
        self._push_interval = push_interval
        self._setup = setup
        self._conn: multiprocessing.connection.Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._latest: Snapshot | None = None
        self.final: Snapshot | None = None
        self.errors: list[str] = []
        self.exit_message: str | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_child_main,
            args=(child, self.spec, self.config, self._push_interval, self._setup, self.role),
            name="loadscope-engine",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent

    # -- controls (never block) ------------------------------------------------------------
    def send(self, command: Command) -> None:
        """Send `command` to the child; ControlError when it cannot get there. Stopping an
        engine that has finished, or whose process has gone, is nothing to do (how it ended is
        its `exit_message`)."""
        if not is_command(command):
            raise ControlError(f"not a control: {command!r}")
        self._send(command, describe(command), quiet_when_done=isinstance(command, Stop | Abort))

    def go(self) -> None:
        """Start the load of a worker that is ready."""
        self._send(GO, "go", quiet_when_done=True)

    @property
    def ready(self) -> bool:
        return self.node is not None

    def _send(self, message: Command | _Go, what: str, *, quiet_when_done: bool) -> None:
        if quiet_when_done and self.finished:
            return
        conn = self._conn
        if conn is None:
            why = self.exit_message or ("it has finished" if self.final else "it is not running")
            raise ControlError(f"{what}: the engine process cannot take it: {why}")
        try:
            conn.send(message)
        except (OSError, ValueError) as exc:  # a broken pipe; ValueError: a closed handle
            strerror = exc.strerror if isinstance(exc, OSError) else None
            gone = f"the engine process cannot be reached: {strerror or exc or type(exc).__name__}"
            if self.exit_message is None and self.final is None:
                self.exit_message = gone  # every caller reports how the engine ended
            if not quiet_when_done:  # a stop has nothing left to stop: said as the exit
                raise ControlError(f"{what}: {gone}") from None

    # -- updates ------------------------------------------------------------------------------
    def updates(self) -> Snapshot | None:
        """Drain the pipe; return the newest snapshot (or the latest seen)."""
        conn = self._conn
        if conn is None:
            return self._latest
        try:
            while conn.poll():
                self._receive(conn.recv())
        except (EOFError, OSError):
            self._conn = None
            if self.final is None and self.exit_message is None:
                self.exit_message = "the engine process ended unexpectedly"
        return self._latest

    def _receive(self, message: tuple[str, Any]) -> None:
        kind, payload = message
        if kind in ("snapshot", "final"):
            add_secrets(payload.secrets_to_mask)  # before anything the child said is written
        if kind == "snapshot":
            self._latest = payload
        elif kind == "final":
            self._latest = self.final = payload
        elif kind == "error":
            self.errors.append(str(payload))
        elif kind == "fatal":
            self.exit_message = str(payload)
        elif kind == "ready":
            self.node = str(payload)

    def snapshot(self) -> Snapshot | None:
        return self.updates()

    @property
    def finished(self) -> bool:
        return self.final is not None or self.exit_message is not None

    def wait_final(self, timeout: float) -> Snapshot | None:
        deadline = time.monotonic() + timeout
        while not self.finished and time.monotonic() < deadline:
            if self._conn is not None:
                with contextlib.suppress(EOFError, OSError):
                    self._conn.poll(0.05)
            self.updates()
            if self._conn is None:
                break
        return self.final

    def close(self, timeout: float = 3.0) -> None:
        process = self._process
        if process is None:
            return
        process.join(timeout)
        if process.is_alive():
            process.terminate()
            process.join(1.0)
        if process.is_alive():
            process.kill()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _child_main(
    conn: multiprocessing.connection.Connection,
    spec: ScenarioSpec,
    config: SessionConfig,
    push_interval: float,
    setup: Callable[[Session], None] | None,
    role: WorkerRole | None = None,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and tells us to stop
    if role is not None and role.cpu is not None:
        with contextlib.suppress(OSError):  # a core taken away since: run wherever we may
            os.sched_setaffinity(0, {role.cpu})
    outbox = Outbox(conn)
    try:
        run_event_loop(_serve(conn, outbox, spec, config, push_interval, setup, role))
    except Exception as exc:  # the parent shows this one line; no traceback on a console
        outbox.finish(("fatal", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


async def _serve(
    conn: multiprocessing.connection.Connection,
    outbox: Outbox,
    spec: ScenarioSpec,
    config: SessionConfig,
    push_interval: float,
    setup: Callable[[Session], None] | None,
    role: WorkerRole | None = None,
) -> None:
    session = build_session(spec, config, setup, role)
    loop = asyncio.get_running_loop()
    go = asyncio.Event()
    if role is None:
        go.set()

    def on_readable() -> None:
        try:
            while conn.poll():
                message = conn.recv()
                if isinstance(message, _Go):
                    go.set()
                    continue
                error = apply_control(session, message)
                if error is not None:
                    outbox.send(("error", error))
        except (EOFError, OSError):
            loop.remove_reader(conn.fileno())
            session.stop()  # the parent went away: stop cleanly

    loop.add_reader(conn.fileno(), on_readable)
    if role is not None:
        outbox.send(("ready", socket.gethostname()))
    if await _first_of(go.wait(), session.wait_stop()):
        pusher = asyncio.create_task(_push(outbox, session, role, push_interval))
        await session.run()
        pusher.cancel()
    with contextlib.suppress(OSError):
        loop.remove_reader(conn.fileno())
    outbox.finish(("final", take_snapshot(session, role, final=True)))


async def _first_of(wanted: Coroutine[Any, Any, Any], other: Coroutine[Any, Any, Any]) -> bool:
    """Wait for either; True when `wanted` came first."""
    first, second = asyncio.ensure_future(wanted), asyncio.ensure_future(other)
    await asyncio.wait({first, second}, return_when=asyncio.FIRST_COMPLETED)
    first.cancel()
    second.cancel()
    return first.done() and not first.cancelled()


async def _push(outbox: Outbox, session: Session, role: WorkerRole | None, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        outbox.send(("snapshot", take_snapshot(session, role, final=False)), droppable=True)


class Outbox:
    """The child's messages to the parent, each written whole, without blocking the event loop.

    Watching the pipe with uvloop's `add_reader` leaves its socket non-blocking, so a message
    larger than the room in the socket's buffer goes out in parts: the rest is written when the
    socket drains (`add_writer`), never mixed with the next message. A snapshot that finds one
    still on its way is dropped (the next supersedes it), so a console that reads late never
    slows the load; other messages wait their turn. Frames are `Connection.send`'s, so the
    parent reads them with `Connection.recv`. Once the parent has gone, messages are dropped.
    """

    def __init__(self, conn: multiprocessing.connection.Connection) -> None:
        self._fd = conn.fileno()
        self._pending = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def send(self, message: tuple[str, object], *, droppable: bool = False) -> None:
        """From the event loop: queue `message` and write what the socket takes now."""
        if self._closed or (droppable and self._pending):
            return
        writing = bool(self._pending)
        self._pending += _frame(message)
        if not writing:
            self._write()

    def finish(self, message: tuple[str, object]) -> None:
        """The last message: write what is pending and `message`, waiting for the parent."""
        self._stop_watching()
        if self._closed:
            return
        self._pending += _frame(message)
        try:
            os.set_blocking(self._fd, True)
            while self._pending:
                del self._pending[: os.write(self._fd, self._pending)]
        except OSError:
            self._closed = True

    def _write(self) -> None:
        try:
            written = os.write(self._fd, self._pending)
        except BlockingIOError:
            written = 0
        except OSError:  # the parent has gone
            self._closed = True
            self._pending.clear()
            written = 0
        del self._pending[:written]
        if self._pending:
            self._watch()
        else:
            self._stop_watching()

    def _watch(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_writer(self._fd, self._write)

    def _stop_watching(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            with contextlib.suppress(RuntimeError, OSError):  # the loop may be closed
                loop.remove_writer(self._fd)


def _frame(message: tuple[str, object]) -> bytes:
    """`message` as `Connection.send` frames it: a big-endian length, then the pickle."""
    payload = ForkingPickler.dumps(message)
    size = len(payload)
    header = struct.pack("!i", size) if size <= 0x7FFFFFFF else struct.pack("!iQ", -1, size)
    return header + bytes(payload)
