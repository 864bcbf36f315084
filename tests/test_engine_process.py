"""A session in a child process: what crosses the pipe arrives whole, however late it is read."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

from loadscope.engine.control._process import _send_whole


def test_a_message_larger_than_the_pipe_arrives_whole_from_a_non_blocking_end() -> None:
    # uvloop's add_reader leaves the child's end non-blocking; a plain send of a message larger
    # than the socket's buffer would stop part-way, and the parent read garbage after it.
    parent, child = multiprocessing.Pipe(duplex=True)
    os.set_blocking(child.fileno(), False)
    big = ("snapshot", b"x" * (4 << 20))
    received: list[object] = []

    def read_late() -> None:
        time.sleep(0.3)  # the parent is busy: the buffer fills first
        received.extend(parent.recv() for _ in range(3))

    reader = threading.Thread(target=read_late)
    reader.start()
    try:
        for message in (("error", "first"), big, ("final", "last")):
            _send_whole(child, message)
    finally:
        reader.join(30)
    assert received == [("error", "first"), big, ("final", "last")]
    assert os.get_blocking(child.fileno()) is False  # left as the event loop wants it
    parent.close()
    _send_whole(child, ("snapshot", "nobody reads"))  # the parent has gone: no error
    child.close()
