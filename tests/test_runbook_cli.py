"""The command line's runbook debugging flags: --iterations and --label."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadscope.engine.runbook import select_by_labels

from .cli_support import loadscope

BOOKS = Path(__file__).resolve().parent / "books"
pytestmark = pytest.mark.timeout(120)


@pytest.mark.slow
def test_iterations_1_shows_every_step_and_its_first_failure() -> None:
    result = loadscope("run", str(BOOKS / "defer.yml"), "--iterations", "1", "-c", "1",
                       "--format", "json")  # fmt: skip
    report = result.json()
    assert (report["iterations_total"], report["iterations_failed"]) == (1, 1)
    assert report["requests_total"] == 0
    assert report["stopped_early"] is False  # it ran what it was asked to: not interrupted
    steps = [line.strip() for line in result.err.splitlines() if line.startswith("    ")]
    assert steps == [  # each line names its iteration: with -c 2 and more, VUs interleave
        "[iteration 1] --- defer:start ... ok",
        "[iteration 1] --- defer:broken ... fail",
        "[iteration 1]     Failure/Error: defer:broken: test failed: len(steps) == 3 && false",
        "[iteration 1] --- defer:skipped ... skip",
        "[iteration 1] --- defer:cleanup first ... ok",
        "[iteration 1] --- defer:cleanup last ... ok",
    ]
    assert result.code == 0


@pytest.mark.slow
def test_iterations_stops_loadt_after_that_many() -> None:
    result = loadscope("loadt", str(BOOKS / "no_http.yml"), "--iterations", "3",
                       "--warm-up", "0s", "--max-rps", "0", "--format", "json")  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    assert (report["total"], report["succeeded"]) == (3, 3)


@pytest.mark.slow
def test_iterations_must_be_positive() -> None:
    result = loadscope("run", str(BOOKS / "no_http.yml"), "--iterations", "0")
    assert result.code == 2
    assert result.error_line() == "loadscope: --iterations must be at least 1"


@pytest.mark.slow
def test_label_selects_runbooks_as_runn_does() -> None:
    books = [str(BOOKS / "needs_dep.yml"), str(BOOKS / "no_http.yml")]
    assert select_by_labels(books, ["needs"]) == books[:1]
    assert select_by_labels(books, ["nope", "needs"]) == books[:1]
    assert select_by_labels(books, ["needs and !other"]) == books[:1]
    assert select_by_labels(books, ["needs and other"]) == []
    result = loadscope("run", *books, "--label", "nope", "--iterations", "1")
    assert result.code == 2
    assert result.error_line() == "loadscope: --label: no runbook has the labels (nope)"
    chosen = loadscope("run", *books, "--label", "needs", "--iterations", "1", "--format", "json")
    assert chosen.json()["scenario"] == books[0]


@pytest.mark.slow
def test_a_runbook_that_sent_nothing_does_not_blame_the_target(tmp_path: Path) -> None:
    """Its steps failed before any request: stderr must not say the target never answered."""
    book = tmp_path / "broken.yml"
    book.write_text(
        "runners:\n  req: http://127.0.0.1:9\n"
        "steps:\n  - req:\n      '/{{ int(\"x\" + string(runn.i)) }}':\n        get: {}\n"
    )
    result = loadscope("run", str(book), "--iterations", "1", "-c", "1")
    assert result.code == 0, result.err
    assert "nothing was answered" not in result.err
    assert "no connection could be made" not in result.err
