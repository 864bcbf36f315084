"""Where the benchmarks find the nginx target of bench/nginx.sh, and its accept counter.

The ports come from the same environment variables nginx.sh reads (BENCH_HTTP_PORT,
BENCH_H2C_PORT, BENCH_TLS_PORT, BENCH_STATUS_PORT), so one `export` moves both.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
NGINX_SH = HERE / "nginx.sh"
START_HINT = f"start the target first: bash {NGINX_SH.relative_to(HERE.parent)} start"


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


H1_URL = f"http://127.0.0.1:{_port('BENCH_HTTP_PORT', 18080)}/"
H2C_URL = f"http://127.0.0.1:{_port('BENCH_H2C_PORT', 18081)}/"
TLS_URL = f"https://127.0.0.1:{_port('BENCH_TLS_PORT', 18443)}/"
STATUS_URL = f"http://127.0.0.1:{_port('BENCH_STATUS_PORT', 18090)}/"


def nginx_accepts() -> int | None:
    """Connections nginx has accepted so far, or None if it does not answer."""
    try:
        with urllib.request.urlopen(STATUS_URL, timeout=2) as response:
            status = response.read().decode()
    except OSError:
        return None
    # stub_status: "Active connections: N", "server accepts handled requests", then the numbers
    return int(status.splitlines()[2].split()[0])


def accepts_between(before: int | None, after: int | None) -> int | None:
    """Connections a client opened between two readings; the reading that gave `after` is itself
    a connection, so it is not counted."""
    if before is None or after is None:
        return None
    return after - before - 1


def require_nginx() -> None:
    if nginx_accepts() is None:
        raise SystemExit(f"nginx does not answer on {STATUS_URL}: {START_HINT}")


def pinned(command: list[str]) -> list[str]:
    """The command on the generator's core (BENCH_CPU, default 0): nginx has the other one."""
    if shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", os.environ.get("BENCH_CPU", "0"), *command]
