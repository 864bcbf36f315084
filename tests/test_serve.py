"""`loadscope serve`: the live console in a browser, through textual-serve."""

from __future__ import annotations

import re
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .browser import chromium, needs_chromium, screenshot_path
from .cli_support import Popen, loadscope, start, wait_for

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except (urllib.error.URLError, ConnectionError):
        return 0


def serving(target: TargetProcess, *console_args: str) -> tuple[Popen, str]:
    port = free_port()
    server = start("serve", "--port", str(port), target.http_url + "/json", *console_args)
    page = f"http://127.0.0.1:{port}/"
    wait_for(lambda: status_of(page) == 200 or server.poll() is not None, timeout=45)
    assert server.poll() is None, server.finish().err
    return server, page


@pytest.mark.slow
def test_serve_answers_200_and_stops_on_ctrl_c(target: TargetProcess) -> None:
    server, page = serving(target, "-c", "2")
    with urllib.request.urlopen(page, timeout=5) as response:
        body = response.read().decode()
    assert response.status == 200
    assert "data-session-websocket-url" in body
    server.interrupt(signal.SIGINT)
    assert server.finish().code == 0


@pytest.mark.slow
def test_bad_console_arguments_are_exit_2_before_serving() -> None:
    result = loadscope("serve", "--port", str(free_port()), "no-such-book.yml")
    assert result.code == 2
    assert "no-such-book.yml" in result.error_line()
    assert loadscope("serve").code == 2


class Screen:
    """What the browser received from the console, escape codes removed."""

    def __init__(self) -> None:
        self.text = ""

    def receive(self, payload: str | bytes) -> None:
        data = payload.decode("utf-8", "ignore") if isinstance(payload, bytes) else payload
        self.text += ANSI.sub("", data)


@pytest.mark.slow
@needs_chromium
def test_the_console_in_a_browser_shows_the_dashboard_and_takes_keys(
    target: TargetProcess, tmp_path: Path
) -> None:
    server, url = serving(target, "-c", "3")
    screen = Screen()
    try:
        with chromium(width=1280, height=820) as browser:
            page = browser.new_page()
            page.on("websocket", lambda ws: ws.on("framereceived", screen.receive))
            page.goto(url, wait_until="load")
            until_shown(page, screen, ("Throughput", "Connections", "3 VUs"))
            page.locator(".xterm-helper-textarea").focus()  # keys, without a click on a panel
            page.keyboard.press("]")  # ten more virtual users
            until_shown(page, screen, ("13 VUs",))
            page.wait_for_timeout(1500)  # a second of charts at the new level, for the picture
            page.screenshot(path=str(screenshot_path("browser.png", tmp_path)))
    finally:
        server.interrupt(signal.SIGINT)
        server.finish()


def until_shown(page: object, screen: Screen, texts: tuple[str, ...], timeout: float = 60) -> None:
    """Let the browser work (its events arrive while it waits) until every text came."""
    deadline = time.monotonic() + timeout
    while not all(text in screen.text for text in texts):
        missing = [text for text in texts if text not in screen.text]
        assert time.monotonic() < deadline, f"never shown: {missing}"
        page.wait_for_timeout(200)  # type: ignore[attr-defined]
