"""What the engine's child process sends its parent arrives whole, however late the parent
reads, and a parent that reads late never blocks the child's event loop."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading

from loadscope.engine.control._process import Outbox

from .helpers import eventually

BIG = 4 << 20  # larger than any socket buffer: it cannot go out in one write


async def test_messages_arrive_whole_and_late_readers_only_miss_snapshots() -> None:
    parent, child = multiprocessing.Pipe(duplex=True)
    os.set_blocking(child.fileno(), False)  # as uvloop's add_reader leaves it
    outbox = Outbox(child)
    snapshots = [("snapshot", bytes([n]) * BIG) for n in range(5)]
    outbox.send(snapshots[0], droppable=True)
    # Nobody reads yet: had a send waited for the parent, the test would hang right here.
    for snapshot in snapshots[1:]:
        outbox.send(snapshot, droppable=True)
    outbox.send(("error", "bad value"))
    received: list[object] = []
    reader = threading.Thread(target=lambda: received.extend(iter(parent.recv, ("final", 1))))
    reader.start()
    # The writer callback moves the rest while the parent reads, up to the queued error.
    await eventually(lambda: ("error", "bad value") in received, what="the queued error")
    outbox.finish(("final", 1))
    await asyncio.to_thread(reader.join, 30)
    assert received[0] == snapshots[0]  # the one under way went whole
    assert received[-1] == ("error", "bad value")  # queued behind it, never dropped
    assert all(message in snapshots for message in received[1:-1])
    assert len(received) < len(snapshots) + 1  # snapshots behind a pending one were dropped
    parent.close()
    outbox.send(("snapshot", "nobody reads"))  # the parent has gone: dropped, no error
    outbox.finish(("final", 2))
    child.close()
