"""Messages for inputs a runn or k6 user writes: k6 thresholds, label expressions, functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadscope.engine.runbook import select_by_labels

from .cli_support import loadscope_in_process

BOOKS = Path(__file__).resolve().parent / "books"
URL = "http://127.0.0.1:9/"
K6 = "that is k6's threshold syntax: in loadscope write"


@pytest.mark.parametrize(
    ("threshold", "equivalent"),
    [
        ("p(95)<500", "req_p95 < 500"),
        ("http_req_duration: p(95)<500", "req_p95 < 500"),
        ("http_req_duration: p(99.9) < 1000", "req_p999 < 1000"),
        ("http_req_duration: avg<200", "req_mean < 200"),
        ("http_req_duration: med<200", "req_p50 < 200"),
        ("http_req_failed: rate<0.01", "req_error_rate < 1"),
        ("http_reqs: rate>100", "req_rps > 100"),
        ("iterations: count>=10", "total >= 10"),
        ("iteration_duration: p(90)<300", "p90 < 300"),
        ("checks: rate>0.99", "error_rate < 1"),
    ],
)
def test_a_k6_threshold_gets_loadscope_s_equivalent(threshold: str, equivalent: str) -> None:
    result = loadscope_in_process("run", URL, "-d", "1s", "--threshold", threshold)
    assert result.code == 2
    assert result.error_line().endswith(f"({K6} `{equivalent}`)")


def test_a_k6_threshold_without_an_equivalent_points_to_the_names() -> None:
    result = loadscope_in_process("run", URL, "-d", "1s", "--threshold", "vus: value<3")
    assert result.code == 2
    assert result.error_line() == (
        "loadscope: --threshold:1:4: unexpected ':' in `vus: value<3` (that is k6's threshold "
        "syntax: loadscope's names are in docs/running.md#thresholds-in-ci)"
    )


def test_an_unknown_function_points_to_the_expression_docs() -> None:
    result = loadscope_in_process("run", URL, "-d", "1s", "--threshold", "nosuch(p99) < 1")
    assert result.code == 2
    assert result.error_line().endswith("(docs/expressions.md lists the supported functions)")
    assert Path(__file__).resolve().parent.parent.joinpath("docs", "expressions.md").is_file()


@pytest.mark.parametrize("label", ["a and (", "a b", "needs or", ")"])
def test_a_label_expression_that_does_not_parse_says_so(label: str) -> None:
    result = loadscope_in_process("run", str(BOOKS / "needs_dep.yml"), "--label", label)
    assert result.code == 2
    assert result.error_line() == (
        f"loadscope: --label: `{label}` does not parse "
        "(labels joined by and, or, not (or !), grouped by parentheses)"
    )


def test_labels_group_with_parentheses() -> None:
    books = [str(BOOKS / "needs_dep.yml"), str(BOOKS / "no_http.yml")]
    assert select_by_labels(books, ["(nope or needs) and !other"]) == books[:1]
    assert select_by_labels(books, ["!(needs)"]) == books[1:]
