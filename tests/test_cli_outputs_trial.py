"""What a new user hit with the report outputs (issue: new-user trial): `-` as stdout for the
output files, each command's help listing only its own exit codes, the built-in target naming
the listener it could not have, and sub-second runs reported with useful precision."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadscope.engine.target import TargetProcess
from loadscope.tui.cli._args import build_parser
from loadscope.tui.cli._reference import _commands

from .cli_support import REPO, Result, loadscope_in_process


@pytest.fixture
def no_dash_file() -> Iterator[None]:
    """In-process runs work from the repository's root: `-` must never be left there."""
    dash = REPO / "-"
    assert not dash.exists(), "a file named - is already in the repository's root"
    yield
    created = dash.exists()
    dash.unlink(missing_ok=True)
    assert not created, "a file named - was written"


def run(target: TargetProcess, *args: str) -> Result:
    """A run that ends in milliseconds: one VU, one iteration of one request."""
    return loadscope_in_process("run", target.http_url + "/", "-c", "1", "--iterations", "1", *args)


# -- 1. `-` is stdout -----------------------------------------------------------------------------
@pytest.mark.usefixtures("no_dash_file")
def test_csv_dash_writes_the_timeline_to_stdout_and_the_text_report_to_stderr(
    target: TargetProcess,
) -> None:
    result = run(target, "--csv", "-")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0].startswith("t,rps,errors,concurrency,")
    assert "Number of runbooks" not in result.out and "Number of runbooks" in result.err


@pytest.mark.usefixtures("no_dash_file")
def test_out_dash_prints_only_the_json_report(target: TargetProcess) -> None:
    result = run(target, "--out", "-")
    assert result.code == 0, result.err
    assert result.json()["requests_total"] == 1
    assert "Number of runbooks" in result.err


@pytest.mark.usefixtures("no_dash_file")
def test_quiet_line_moves_to_stderr_when_an_output_takes_stdout(target: TargetProcess) -> None:
    result = run(target, "--summary-json", "-", "-q")
    assert result.code == 0, result.err
    assert json.loads(result.out)["requests_total"] == 1
    [line] = result.err.splitlines()
    assert " req/s, " in line and line.endswith(" opened")


@pytest.mark.usefixtures("no_dash_file")
def test_html_dash_prints_the_html_report(target: TargetProcess) -> None:
    result = run(target, "--html", "-", "-q")
    assert result.code == 0, result.err
    assert result.out.startswith("<!DOCTYPE html>") and result.out.rstrip().endswith("</html>")


@pytest.mark.usefixtures("no_dash_file")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--out", "-", "--csv", "-"),
            "loadscope: --out and --csv both name stdout (-); only one output can have it",
        ),
        (
            ("--csv", "-", "--html", "-"),
            "loadscope: --csv and --html both name stdout (-); only one output can have it",
        ),
        (
            ("--format", "json", "--out", "-"),
            "loadscope: --format json prints the report on stdout, and --out - names stdout "
            "too; drop one of them",
        ),
    ],
)
def test_two_outputs_on_stdout_are_exit_2(args: tuple[str, ...], message: str) -> None:
    result = loadscope_in_process("run", "http://127.0.0.1:9/", *args)
    assert result.code == 2 and result.out == ""
    assert result.error_line() == message


@pytest.mark.usefixtures("no_dash_file")
@pytest.mark.parametrize("flag", ["--out", "--csv", "--html", "--summary-json", "--save-dir"])
def test_the_console_refuses_dash_as_it_owns_the_terminal(flag: str) -> None:
    result = loadscope_in_process("console", "http://127.0.0.1:9/", flag, "-")
    assert result.code == 2 and result.out == ""
    name = "--out" if flag == "--summary-json" else flag
    assert result.error_line() == (
        f"loadscope: {name} -: the console owns the terminal, so stdout is not free; "
        "name a file (or use `loadscope run`)"
    )


@pytest.mark.usefixtures("no_dash_file")
def test_the_demo_console_refuses_dash_too() -> None:
    result = loadscope_in_process("demo", "--out", "-")
    assert result.code == 2 and "the console owns the terminal" in result.error_line()


@pytest.mark.usefixtures("no_dash_file")
def test_a_request_log_cannot_be_stdout() -> None:
    result = loadscope_in_process("run", "http://127.0.0.1:9/", "--log-requests", "-")
    assert result.code == 2
    assert result.error_line() == (
        "loadscope: --log-requests -: a SQLite file cannot go to stdout; name a file"
    )


def test_help_says_what_dash_means() -> None:
    run_help = dict(_commands(build_parser()))["run"].format_help()
    flat = " ".join(run_help.split())
    assert "FILE or - for stdout" in flat
    assert "the text report then goes to stderr" in flat


# -- 2. each command's exit codes -----------------------------------------------------------------
def exit_line(command: str) -> str:
    text = dict(_commands(build_parser()))[command].format_help()
    return " ".join(text[text.index("Exit codes:") :].split())  # unwrapped


def test_each_command_lists_only_the_exit_codes_it_can_give() -> None:
    assert exit_line("watch") == "Exit codes: 0 ok, 2 bad input, 130 interrupted."
    assert exit_line("compare") == (
        "Exit codes: 0 ok, 1 threshold failed, 2 bad input (e.g. a report that cannot be read), "
        "130 interrupted."
    )
    assert "threshold" not in exit_line("demo") and "threshold" not in exit_line("serve")
    assert "unreachable" not in exit_line("serve")
    assert exit_line("target") == (
        "Exit codes: 0 stopped, 2 bad input (e.g. a port in use) or a worker process died, "
        "130 interrupted."
    )
    for command in ("run", "loadt", "console"):
        assert exit_line(command) == (
            "Exit codes: 0 ok, 1 threshold failed, 2 bad input or target unreachable, "
            "130 interrupted."
        )


def test_the_reference_gives_each_commands_exit_codes() -> None:
    from loadscope.tui.cli._reference import reference_markdown

    sections = reference_markdown().split("\n## ")
    [watch] = [s for s in sections if s.startswith("`loadscope watch`")]
    assert "Exit codes: 0 ok, 2 bad input, 130 interrupted." in watch


def test_a_target_worker_that_dies_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from loadscope.engine.target import _foreground

    def kill_a_worker(target: TargetProcess, out: object) -> None:
        os.kill(target.pids[0], signal.SIGKILL)

    monkeypatch.setattr(_foreground, "_print_banner", kill_a_worker)
    result = loadscope_in_process("target", "--port", "0")
    assert result.code == 2
    assert result.error_line() == (
        "loadscope: target: a worker process exited on its own; the target stopped"
    )


# -- 3. the built-in target says which listener failed ---------------------------------------------
@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_busy_port_is_named_alone_beside_a_unix_socket(busy_port: int, tmp_path: Path) -> None:
    sock = tmp_path / "x.sock"
    result = loadscope_in_process("target", "--port", str(busy_port), "--unix-socket", str(sock))
    assert result.code == 2
    assert result.error_line() == (
        f"loadscope: target: cannot listen on 127.0.0.1:{busy_port}: address already in use"
    )


def test_a_busy_tls_port_is_named_alone(busy_port: int) -> None:
    result = loadscope_in_process("target", "--port", "0", "--tls", "--tls-port", str(busy_port))
    assert result.code == 2
    assert result.error_line() == (
        f"loadscope: target: cannot listen on 127.0.0.1:{busy_port}: address already in use"
    )


def test_a_file_in_the_unix_sockets_place_is_named(tmp_path: Path) -> None:
    taken = tmp_path / "x.sock"
    taken.write_text("not a socket")
    result = loadscope_in_process("target", "--port", "0", "--unix-socket", str(taken))
    assert result.code == 2
    assert result.error_line() == (
        f"loadscope: target: cannot listen on unix socket {taken}: "
        "a file that is not a socket is in the way"
    )
    assert taken.read_text() == "not a socket"


def test_a_unix_socket_path_too_long_is_named_with_its_reason(tmp_path: Path) -> None:
    sock = tmp_path / ("s" * 120 + ".sock")
    result = loadscope_in_process("target", "--port", "0", "--unix-socket", str(sock))
    assert result.code == 2
    line = result.error_line()
    assert line.startswith(f"loadscope: target: cannot listen on unix socket {sock}: ")
    assert line.endswith("path too long (at most 107 bytes)")
    assert "127.0.0.1" not in line


def test_a_unix_socket_in_a_missing_directory_is_named(tmp_path: Path) -> None:
    sock = tmp_path / "missing" / "x.sock"
    result = loadscope_in_process("target", "--port", "0", "--unix-socket", str(sock))
    assert result.code == 2
    assert result.error_line() == (
        f"loadscope: target: cannot listen on unix socket {sock}: no such file or directory"
    )


# -- 4. sub-second runs, and counts with their nouns ----------------------------------------------
def test_a_run_of_milliseconds_shows_them(target: TargetProcess, tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    result = run(target, "--html", str(html))
    assert result.code == 0, result.err
    duration = re.search(r"^Duration \(--duration\)\.+: (\S+)$", result.out, re.M)
    assert duration is not None and duration.group(1) != "0s", result.out
    assert re.fullmatch(r"[\d.]+(ms|µs)", duration.group(1)), duration.group(1)
    total = re.search(r"^  total\s+1 in (\S+) = ", result.out, re.M)
    assert total is not None and total.group(1) != "0.0s", result.out
    assert re.fullmatch(r"[\d.]+ms", total.group(1)), total.group(1)
    page = html.read_text()
    assert "1 VU " in page and "1 VUs" not in page
    assert re.search(r" · [\d.]+ ms · ", page), "the HTML says the sub-second time in ms"


def test_the_quiet_line_gives_the_time_and_singular_nouns(target: TargetProcess) -> None:
    result = run(target, "-q")
    assert result.code == 0, result.err
    assert re.fullmatch(
        r"1 request in [\d.]+ms, [\d,.]+ req/s, 0 errors, 0 of 1 iteration failed, "
        r"request p50 \S+, request p99 \S+, 1 connection opened\n",
        result.out,
    ), result.out


def test_elapsed_text() -> None:
    from loadscope.tui.format import elapsed

    assert elapsed(0.0082) == "8.20ms"
    assert elapsed(0.00004) == "0.040ms"
    assert elapsed(1.23) == "1.2s"
    assert elapsed(3725.0) == "3,725.0s"


# Each form elapsed() may give, with the range its number must fall in once read back.
ELAPSED_FORMS = [
    (r"(\d\.\d{3})ms", 0.001, 0.099, 1e-3),
    (r"(\d\.\d{2})ms", 0.10, 9.99, 1e-3),
    (r"(\d{2}\.\d)ms", 10.0, 99.9, 1e-3),
    (r"(\d{3})ms", 100, 999, 1e-3),
    (r"([\d,]+\.\d)s", 1.0, float("inf"), 1.0),
]
EDGES = [0.001, 0.0001, 0.01, 0.1, 1.0]  # where elapsed() changes its unit or its decimals


def read_elapsed(text: str) -> tuple[float, float, float]:
    """(seconds it reads, the half-unit of its last digit, in seconds): it must fit one form."""
    for pattern, low, high, unit in ELAPSED_FORMS:
        matched = re.fullmatch(pattern, text)
        if matched:
            number = float(matched.group(1).replace(",", ""))
            assert low <= number <= high, text
            decimals = len(matched.group(1).partition(".")[2])
            return number * unit, 0.5 * 10**-decimals * unit, unit
    raise AssertionError(f"{text!r} is none of the forms")


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("nudge", [-1e-4, -5e-5, -1e-6, -1e-9, 0.0, 1e-9, 1e-6, 5e-5])
def test_elapsed_rounds_first_and_then_picks_its_unit(edge: float, nudge: float) -> None:
    from loadscope.tui.format import elapsed

    seconds = edge * (1 + nudge * 10)
    text = elapsed(seconds)
    if seconds < 0.0000005:
        assert text == "<0.001ms"
        return
    read, half_unit, _ = read_elapsed(text)
    assert abs(read - seconds) <= half_unit * 1.000001, (seconds, text)


@given(st.floats(min_value=0.0000005, max_value=5.0))
def test_elapsed_reads_back_within_its_last_digit(seconds: float) -> None:
    from loadscope.tui.format import elapsed

    read, half_unit, _ = read_elapsed(elapsed(seconds))
    assert abs(read - seconds) <= half_unit * 1.000001, (seconds, elapsed(seconds))


def test_elapsed_below_a_microsecond_and_just_below_a_second() -> None:
    from loadscope.tui.format import elapsed

    assert elapsed(1e-7) == "<0.001ms" and elapsed(1e-7, " ") == "<0.001 ms"
    assert [elapsed(s) for s in (0.9994, 0.9995, 0.99999)] == ["999ms", "1.0s", "1.0s"]
    assert [elapsed(s) for s in (0.00999, 0.009996, 0.09996)] == ["9.99ms", "10.0ms", "100ms"]


def test_a_go_duration_of_a_sub_second_run_keeps_its_milliseconds() -> None:
    from loadscope.tui.format import elapsed_duration

    assert elapsed_duration(0.00812) == "8ms"
    assert elapsed_duration(0.0000412) == "41µs"
    assert elapsed_duration(2.345) == "2.3s"
