"""`TargetProcess`: the target in child processes (spawned), with counters the parent can read.

Worker 0 binds first (port 0 picks free ports); the other workers then bind the same ports with
SO_REUSEPORT. Every child watches its pipe to the parent and stops when the parent goes away,
so a child never outlives the process that started it, even one that was killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import tempfile
import time
import weakref
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.process import BaseProcess

from .._loop import run_event_loop
from ._counters import Field, SharedCounters
from ._options import Listener, TargetOptions
from ._server import ListenError, TargetInfo

START_TIMEOUT = 15.0
STOP_TIMEOUT = 3.0


class TargetProcess:
    """The target server in its own process(es). `start()` returns once every worker listens."""

    def __init__(self, options: TargetOptions | None = None) -> None:
        self.options = options or TargetOptions()
        self.info: TargetInfo | None = None
        self._context = multiprocessing.get_context("spawn")
        self._counters = SharedCounters(self.options.workers, self._context)
        self._children = _Children()
        self._finalizer = weakref.finalize(self, self._children.stop)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> TargetProcess:
        if self._children.processes:
            raise RuntimeError("this target was already started")
        options = self.options
        if options.tls and options.certfile is None:
            from ._cert import write_self_signed  # cryptography only when TLS is on

            directory = self._children.tempdir = tempfile.mkdtemp(prefix="loadscope-target-")
            certfile, keyfile = write_self_signed(directory)
            options = replace(options, certfile=certfile, keyfile=keyfile)
        secret = os.urandom(16)
        deadline = time.monotonic() + timeout
        try:
            self.info = self._wait_ready([self._spawn(0, options, secret)], deadline)[0]
            if options.workers > 1:
                # The others bind the ports worker 0 picked.
                options = replace(
                    options,
                    port=self.info.http_port,
                    tls_port=self.info.https_port or 0,
                    http3_port=self.info.http3_port,
                )
                others = range(1, options.workers)
                self._wait_ready([self._spawn(n, options, secret) for n in others], deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after ~3 s) and remove the certificate."""
        self._finalizer()

    def __enter__(self) -> TargetProcess:
        return self if self._children.processes else self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _spawn(
        self, worker: int, options: TargetOptions, secret: bytes
    ) -> multiprocessing.connection.Connection:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main,
            args=(child, options, self._counters, worker, secret),
            name=f"loadscope-target-{worker}",
            daemon=True,
        )
        process.start()
        child.close()
        self._children.processes.append(process)
        self._children.pipes.append(parent)
        return parent

    def _wait_ready(
        self, pipes: list[multiprocessing.connection.Connection], deadline: float
    ) -> list[TargetInfo]:
        infos = []
        for pipe in pipes:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                if not pipe.poll(remaining):
                    raise TimeoutError("the target did not start in time")
                kind, payload = pipe.recv()
            except (EOFError, OSError):
                raise RuntimeError("the target process exited while starting") from None
            if kind == "listen_error":  # still a failed start; the cause names the listener
                cause = ListenError(*payload)
                raise RuntimeError(f"the target failed to start: {cause}") from cause
            if kind != "ready":
                raise RuntimeError(f"the target failed to start: {payload}")
            infos.append(payload)
        return infos

    # -- where it listens -----------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        return self._started().http_url

    @property
    def https_url(self) -> str | None:
        return self._started().https_url

    @property
    def http3_url(self) -> str | None:
        return self._started().http3_url

    @property
    def cert_path(self) -> str | None:
        return self._started().cert_path

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._children.processes if process.pid is not None]

    def is_alive(self) -> bool:
        processes = self._children.processes
        return bool(processes) and all(process.is_alive() for process in processes)

    def _started(self) -> TargetInfo:
        if self.info is None:
            raise RuntimeError("the target is not started")
        return self.info

    # -- counters (shared memory: no connection needed) -----------------------------------------
    def accepted(self, listener: Listener | str | None = None) -> int:
        """TCP connections accepted so far, by every worker; one listener or all of them."""
        return self._counters.total(Field.ACCEPTED, listener)

    def open_connections(self, listener: Listener | str | None = None) -> int:
        return self._counters.open(listener)

    def requests(self, listener: Listener | str | None = None) -> int:
        """Complete requests received (counted before the answer is sent)."""
        return self._counters.total(Field.REQUESTS, listener)

    def stats(self) -> dict[str, object]:
        """The counters in the shape `/__stats` answers with."""
        return self._counters.as_dict()

    def wait_until(self, condition: Callable[[TargetProcess], bool], timeout: float = 2.0) -> bool:
        """Poll `condition(self)` until it holds; counters change a moment after a client acts
        (a connect returns before the server accepts, a close before the server notices)."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    async def wait_until_async(
        self, condition: Callable[[TargetProcess], bool], timeout: float = 2.0
    ) -> bool:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True


class _Children:
    """What `stop` cleans up; no reference back to `TargetProcess`, so `finalize` can own it."""

    def __init__(self) -> None:
        self.processes: list[BaseProcess] = []
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.tempdir: str | None = None

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.close()  # the children see EOF and stop, as if the parent had gone
        for process in self.processes:
            with contextlib.suppress(OSError, ValueError):
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)
        if self.tempdir is not None:
            shutil.rmtree(self.tempdir, ignore_errors=True)
            self.tempdir = None


# -- in the child -------------------------------------------------------------------------------
def _worker_main(
    pipe: multiprocessing.connection.Connection,
    options: TargetOptions,
    counters: SharedCounters,
    worker: int,
    secret: bytes,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and stops us
    try:
        run_event_loop(_worker(pipe, options, counters, worker, secret))
    finally:
        pipe.close()


async def _worker(
    pipe: multiprocessing.connection.Connection,
    options: TargetOptions,
    counters: SharedCounters,
    worker: int,
    secret: bytes,
) -> None:
    from ._server import serve

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_pipe_readable() -> None:
        # The parent never writes: the pipe turns readable only at EOF, when it stops or dies.
        loop.remove_reader(pipe.fileno())
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(pipe.fileno(), on_pipe_readable)

    def ready(info: TargetInfo) -> None:
        pipe.send(("ready", info))

    server = asyncio.create_task(
        serve(options, ready, counters=counters, worker=worker, secret=secret)
    )
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({server, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    server.cancel()
    try:
        await server
    except asyncio.CancelledError:
        pass
    except ListenError as exc:  # which listener, and why: the parent says so
        with contextlib.suppress(OSError):
            pipe.send(("listen_error", (exc.where, exc.reason)))
    except Exception as exc:  # could not listen, most likely: the parent shows one line
        with contextlib.suppress(OSError):
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
