"""What `loadscope run URL` imports: only what a URL run needs, so it starts quickly.

No timings here: the guard is the set of modules a real run leaves in `sys.modules`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .cli_support import TIMEOUT, environment

# The `loadscope` console script's path (`entry`), with the modules left at exit written out.
_RUN_AND_LIST_MODULES = """
import atexit, sys
from loadscope.tui.cli import entry

listing = sys.argv.pop(1)
loaded = lambda: sorted(name for name, module in sys.modules.items() if module is not None)
atexit.register(lambda: open(listing, "w").write("\\n".join(loaded())))
sys.argv[0] = "loadscope"
entry()
"""

# What a URL over HTTP/1.1 never needs: runbooks' reader, compiler and built-ins; the console;
# httpx's own command line; worker processes; HTTP/2.
NOT_IMPORTED = (
    "yaml",
    "loadscope.engine.runbook._scenario",
    "loadscope.engine.runbook._compile",
    "loadscope.engine.runbook._expression",
    "textual",
    "rich",
    "click",
    "pygments",
    "httpx._main",
    "multiprocessing",
    "loadscope.engine.control._process",
    "h2",
)


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def imported_by(tmp_path: Path, *args: str) -> set[str]:
    listing = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_MODULES, str(listing), *args],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return set(listing.read_text().split())


def test_a_url_run_imports_only_what_a_url_run_needs(tmp_path: Path, url: str) -> None:
    modules = imported_by(tmp_path, "run", url, "--iterations", "1", "-q")
    assert "loadscope.engine.session" in modules  # it did run
    assert [name for name in NOT_IMPORTED if name in modules] == []


def test_version_imports_no_engine_to_run_a_load(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "--version")
    assert [
        name for name in ("asyncio", "httpx", "loadscope.engine.session") if name in modules
    ] == []
