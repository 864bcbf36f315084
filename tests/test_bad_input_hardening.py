"""The bad inputs of the fault audit, and their kin: each is one line on stderr and exit 2,
before anything is sent (the URL is a loopback port nothing listens on, never reached)."""

from __future__ import annotations

import contextlib
import io
import socket
from pathlib import Path

import pytest

from loadscope.tui.cli import main


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


URL = f"http://127.0.0.1:{free_port()}/"
ZERO_BOOK = f"""runners:
  api: {URL}
steps:
  - api:
      /:
        post:
          body:
            application/octet-stream:
              filename: /dev/zero
"""
GET_STEP = f"runners:\n  api: {URL}\nsteps:\n  - api:\n      /:\n        get:\n"
JSON_ZERO_BOOK = "vars:\n  big: json:///dev/zero\n" + GET_STEP + "          headers: {}\n"
INCLUDE_ZERO_BOOK = "steps:\n  - include: /dev/zero\n"
SNOWMAN_BOOK = GET_STEP + "          headers:\n            X-A: ☃\n"
SNOWMAN_NAME_BOOK = SNOWMAN_BOOK.replace("X-A: ☃", "X-☃: a")

CASES = [
    (["run", URL, "-H", "X-A: ☃"], "--header: X-A: a value must be ASCII"),
    (["run", URL, "-H", "X-☃: a"], "invalid header name"),
    (["run", URL, "--rate", "nan"], "'nan' is not a finite number"),
    (["run", URL, "--rate", "inf"], "'inf' is not a finite number"),
    (["run", URL, "-d", "99999999999999999999h"], "longer than the maximum of 30 days"),
    (["run", URL, "--warm-up", "31d"], "longer than the maximum of 30 days"),
    (["run", URL, "--timeout", "nan"], "--timeout: 'nan' is not a finite duration"),
    (["run", URL, "--stages", "1s:inf"], "is not a number up to 1,000,000"),
    (["run", URL, "--phases", "shared:0"], "a phase needs a duration"),
    (["run", URL, "--max-body", "lots"], "--max-body: 'lots' is not a size"),
    (["run", URL, "--max-body", "1" * 400], "more than the maximum of 16GiB"),
    (["run", URL, "--connect-timeout", "0"], "--connect-timeout must be more than 0"),
    (["run", URL, "-X", "POST", "--body", "@/dev/zero"], "not a regular file (a character device)"),
    (["run", URL, "-X", "POST", "--body", "@/"], "--body: cannot read /: a directory"),
    (["run", "/dev/zero"], "/dev/zero: cannot be a runbook: not a regular file"),
    (["run", URL, "--out", "a\0b"], "--out: cannot write"),
    (["run", URL, "-c", "1" * 5000], "invalid int value"),
    (["run", "http://" + "1" * 5000 + "/"], "the host name is 5,000 characters long"),
    (["run", "http://a." + "b" * 64 + ".c/"], "longer than 63 characters"),
    (["loadt", "/dev/zero"], "not a regular file"),
    (["loadt", "/dev/null", "--max-rps", "99999999"], "more than the maximum 1,000,000"),
    (["target", "--port", "70000"], "more than the maximum 65,535"),
    (["target", "--keepalive-timeout", "nan"], "not a finite number"),
    (["demo", "--headless", "-c", "1e3"], "invalid int value"),
]
BOOK_CASES = [
    (ZERO_BOOK, "cannot read /dev/zero: not a regular file (a character device)"),
    (JSON_ZERO_BOOK, "cannot read json:///dev/zero: not a regular file (a character device)"),
    (INCLUDE_ZERO_BOOK, "cannot include '/dev/zero': not a regular file (a character device)"),
    (SNOWMAN_BOOK, "header X-A: a value must be ASCII"),
    (SNOWMAN_NAME_BOOK, "invalid header name 'X-☃'"),
    (GET_STEP.replace(URL, "http://" + "x" * 300 + "/"), "the host name is 300 characters long"),
]


def one_error_line(arguments: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(arguments)
    assert code == 2, err.getvalue()
    assert out.getvalue() == ""
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0], err.getvalue()
    return lines[0]


def case_id(arguments: list[str]) -> str:
    """The same id in every process: xdist's workers must agree on them (URL's port differs)."""
    return " ".join(arguments).replace(URL, "URL")[:60]


@pytest.mark.parametrize(("arguments", "fragment"), CASES, ids=[case_id(c[0]) for c in CASES])
def test_bad_flags_are_one_line_and_exit_2(arguments: list[str], fragment: str) -> None:
    assert fragment in one_error_line(arguments)


@pytest.mark.parametrize(("text", "fragment"), BOOK_CASES, ids=[c[1][:40] for c in BOOK_CASES])
def test_bad_runbooks_are_one_line_and_exit_2(tmp_path: Path, text: str, fragment: str) -> None:
    book = tmp_path / "book.yml"
    book.write_text(text)
    assert fragment in one_error_line(["run", str(book), "-d", "1s"])


def test_a_body_of_bytes_that_are_not_utf8_is_sent_as_given(tmp_path: Path) -> None:
    """argv holds them as surrogates; they go out as the bytes the shell gave."""
    from loadscope.tui.cli._plan import RunPlan, parse_plan

    plan = parse_plan(["run", URL, "-X", "POST", "--body", "a\udcffb"])
    assert isinstance(plan, RunPlan) and plan.load.spec.body == b"a\xffb"


LONG_IDNA_HOST = ".".join(["ü" * 25] * 9)  # 233 characters, over 253 in its xn-- form


@pytest.mark.parametrize(
    "host",
    [LONG_IDNA_HOST, "ü" * 60 + ".de", "xn--zz.de", "a\u200db.de"],
    ids=["long", "long label", "bad A-label", "joiner"],
)
def test_a_host_idna_cannot_encode_is_a_short_phrase(host: str) -> None:
    line = one_error_line(["run", f"http://{host}/", "-d", "1s"])
    assert line.endswith(": the host is not a valid internationalized (IDNA) name"), line
    assert len(line) < 120 + len(host), line  # the host once, in the URL, never twice


def test_dns_lengths_are_those_of_the_hosts_ascii_form() -> None:
    from loadscope.engine.hosts import host_problem

    label = "ü" * 30  # 30 characters, 64 in its xn-- form
    assert host_problem(label + ".de") == ""
    assert "longer than 63" in host_problem(label + ".de", "xn--" + "a" * 60 + ".de")
    assert "DNS allows 253" in host_problem("ü.de", ".".join(["xn--" + "a" * 59] * 5))


def test_error_lines_quote_a_url_and_lower_a_message_with_the_engines_helpers() -> None:
    from loadscope.engine.phrases import as_phrase, shown_url

    assert as_phrase("Address already in use") == "address already in use"
    assert shown_url("http://me:pw@h/" + "x" * 200) == "http://***@h/" + "x" * 87 + "…"
