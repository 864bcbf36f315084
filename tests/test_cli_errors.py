"""Bad input of every kind: one line on stderr, the right exit code, nothing on stdout, never a
traceback, and nothing sent to the target."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .cli_support import Result, loadscope, loadscope_in_process

URL = "http://127.0.0.1:9/"  # never contacted: every case fails before any load

# (arguments, a fragment of the one error line)
RUN_CASES = [
    (["run", URL, "--bogus"], "unrecognized arguments: --bogus"),
    (["bogus"], "invalid choice: 'bogus'"),
    (["run"], "give a runbook or a URL"),
    (["run", URL, "-d", "xyz"], "-d/--duration: not a duration: 'xyz'"),
    (["run", URL, "-d", "0s"], "-d/--duration must be more than 0"),
    (["run", URL, "-d", ""], "-d/--duration: empty"),
    (["run", URL, "--stages", "0s:5"], "--stages: the stages last 0s"),
    (["run", "examples"], "examples: a directory, not a runbook file"),
    (["run", "127.0.0.1:9"], "no such runbook file (a URL? http://127.0.0.1:9)"),
    (["run", URL, "--warm-up", "soon"], "--warm-up: not a duration"),
    (["run", URL, "--timeout", "0"], "--timeout must be more than 0"),
    (["run", URL, "--stages", "10s"], "--stages: '10s' is not DURATION:TARGET"),
    (["run", URL, "--stages", "10s:-5"], "--stages: target in '10s:-5' cannot be negative"),
    (["run", "http://:80/"], "invalid URL 'http://:80/': no host"),
    (["run", "http://127.0.0.1:notaport/"], "invalid URL"),
    (["run", "ftp://127.0.0.1/"], "only http:// and https:// URLs"),
    (["run", "http://127.0.0.1:99999/"], "port 99999 is not 1-65535"),
    (["run", URL, "-X", "GE T"], "-X/--method: 'GE T' is not an HTTP method"),
    (["run", URL, "-X", "GET / HTTP/1.1\r\nX: 1\r\n\r\nGET"], "is not an HTTP method"),
    (["run", URL, "-H", "X-A: a\r\nX-Injected: b"], "a value cannot contain CR, LF or NUL"),
    (["run", URL, "-H", "X(A): a"], "--header: invalid header name 'X(A)'"),
    (["run", URL, URL], "give one URL"),
    (["run", URL, "examples/demo.yml"], "give runbooks or one URL, not both"),
    (["run", "no/such/book.yml"], "no/such/book.yml: no such runbook file"),
    (["run", "examples/demo.yml", "-X", "POST"], "-X/--method and --body are for the URL form"),
    (["run", URL, "--var", "user:x"], "--var sets runbook vars; a URL has none"),
    (["run", "examples/demo.yml", "--var", "novalue"], "--var: 'novalue' is not key:value"),
    (["run", URL, "--header", "NoColon"], "--header: 'NoColon' is not 'Name: value'"),
    (["run", URL, "--body", "@/no/such/file"], "--body: cannot read /no/such/file"),
    (["run", URL, "-c", "-1"], "-c/--concurrency cannot be negative"),
    (["run", URL, "-c", "0"], "-c/--concurrency 0 starts no virtual users"),
    (["run", URL, "-c", "many"], "invalid int value: 'many'"),
    (["run", URL, "-c", "100000000"], "open files but this process may open"),
    (["run", URL, "--rate", "-5"], "--rate must be more than 0"),
    (["run", URL, "--rate", "10", "--max-vus", "0"], "--max-vus must be at least 1"),
    (["run", URL, "--max-vus", "5"], "--max-vus is for the open model; add --rate R"),
    (["run", URL, "--h2-connections", "0"], "--h2-connections must be at least 1"),
    (["run", URL, "--reuse", "sometimes"], "argument --reuse: invalid choice: 'sometimes'"),
    (["run", URL, "--http1", "--http2"], "not allowed with argument"),
    (["run", "https://127.0.0.1:9/", "--h2c"], "--h2c is HTTP/2 without TLS"),
    (["run", URL, "--phases", "shared"], "--phases: 'shared' is not MODE:DURATION"),
    (["run", URL, "--phases", "shared:5s", "--stages", "5s:5"], "--phases and --stages"),
    (
        ["run", URL, "--out", "/no/such/dir/r.json"],
        "directory '/no/such/dir' does not exist",
    ),
    (
        ["run", URL, "--csv", "/no/such/dir/t.csv"],
        "--csv: cannot write /no/such/dir/t.csv",
    ),
    (["run", URL, "--threshold", "p99 <"], "--threshold:1:6: unexpected end of expression"),
    (["run", URL, "--threshold", "latency < 1"], "--threshold: unknown name latency"),
    (["run", URL, "--threshold", 'p99 < "a"'], "cannot pass: invalid operation: float < string"),
    (["run", URL, "--threshold", "p99"], "`p99` cannot pass: it is a float, not true or false"),
]
LOADT_CASES = [
    (["loadt"], "the following arguments are required: PATH_PATTERN"),
    (["loadt", "no/such.yml"], "no/such.yml: no such runbook file"),
    (["loadt", "examples/demo.yml", "--load-concurrent", "-1"], "--load-concurrent cannot be"),
    (["loadt", "examples/demo.yml", "--max-rps", "-1"], "--max-rps cannot be negative"),
    (["loadt", "examples/demo.yml", "--load-concurrent", "0", "--max-rps", "0"], "needs a --max"),
    (["loadt", "examples/demo.yml", "--duration", "0"], "--duration must be more than 0"),
    (["loadt", "examples/demo.yml", "--threshold", "p99 < "], "--threshold:1:"),
    (["loadt", "examples/demo.yml", "--concurrency", "3"], "unrecognized arguments"),
]
OTHER_CASES = [
    (["target", "--port", "-1"], "--port: '-1' is less than the minimum 0"),
    (["target", "--workers", "0"], "--workers: '0' is less than the minimum 1"),
    (["demo", "--headless", "-d", "soon"], "-d/--duration: not a duration"),
    (["console", URL, "-d", "1s"], "the console needs a terminal"),
]


CASES = RUN_CASES + LOADT_CASES + OTHER_CASES

# A handful of cases, one per command, also run as real processes (the exit code as a shell sees
# it); the rest run in-process, where each costs a parse rather than an interpreter's start-up.
PROCESS_CASES = [RUN_CASES[0], RUN_CASES[-1], LOADT_CASES[1], OTHER_CASES[0], OTHER_CASES[-1]]


@pytest.mark.parametrize(
    ("args", "fragment"),
    CASES,
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    assert_one_line_exit_2(loadscope_in_process(*args), fragment)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "fragment"),
    PROCESS_CASES,
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_input_in_a_real_process_is_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    assert_one_line_exit_2(loadscope(*args), fragment)


def assert_one_line_exit_2(result: Result, fragment: str) -> None:
    assert result.code == 2, result
    assert result.out == ""
    line = result.error_line()
    assert fragment in line
    assert re.match(r"(loadscope|--threshold:)", line), line


def test_an_unknown_flag_points_to_the_help() -> None:
    line = loadscope_in_process("run", URL, "--concurency", "5").error_line()
    assert line == (
        "loadscope run: unrecognized arguments: --concurency 5 (see loadscope run --help)"
    )
    line = loadscope_in_process("run", URL, "--reuse", "x").error_line()
    assert line.endswith("(see loadscope run --help)")


@pytest.mark.slow
def test_an_invalid_runbook_is_located_and_sends_nothing(
    target: TargetProcess, tmp_path: Path
) -> None:
    cases = {
        "yaml.yml": ("runners:\n  req: ${TARGET}\nsteps: [\n", r"yaml\.yml:\d+:\d+: "),
        "runner.yml": (
            "runners:\n  req: ${TARGET}\nsteps:\n  one:\n    api:\n      /:\n        get: {}\n",
            r"runner\.yml:5:5: .*unknown runner",
        ),
        "expression.yml": (
            "runners:\n  req: ${TARGET}\nsteps:\n  one:\n    req:\n      /:\n        get: {}\n"
            "    test: current.res.status ==\n",
            r"expression\.yml:8:\d+: ",
        ),
    }
    before = target.accepted()
    for name, (text, pattern) in cases.items():
        (tmp_path / name).write_text(text)
        for command in ("run", "loadt"):
            result = loadscope(command, str(tmp_path / name), env={"TARGET": target.http_url})
            assert result.code == 2 and result.out == ""
            assert re.match(f".*{pattern}", result.error_line()), result.err
    assert target.accepted() == before


@pytest.mark.slow
def test_an_unreachable_target_is_exit_2_from_the_first_connections(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    out = tmp_path / "report.json"
    result = loadscope("run", url, "-c", "3", "-d", "30s", "--out", str(out))
    assert result.code == 2 and result.out == ""
    line = result.error_line()
    assert line == f"loadscope: target unreachable: connect to http://127.0.0.1:{port}: " + (
        "connection refused"
    )
    assert out.exists()  # --out is written always
    book = tmp_path / "book.yml"
    book.write_text("runners:\n  req: ${TARGET}\nsteps:\n  - req:\n      /:\n        get: {}\n")
    for command in ("run", "loadt"):
        result = loadscope(command, str(book), "--format", "json", env={"TARGET": url})
        assert result.code == 2 and result.out == ""
        assert "target unreachable" in result.error_line()
