"""runn's documented behaviour, feature by feature, on runbooks of our own
(tests/books/runn_compat/): all tests true, escaped template braces, `force` for the book and for
one step, `runn.i`, `notFollowRedirect`, the runner's `timeout`, `json://` variables, `if` and
`steps.NAME.run`, loops (counted, with `bind` appending, retried `until`), one-step books in list
and map form, `previous`, variables, YAML anchors and merge keys, multipart uploads, and map-form
steps read by a later test. Each book says on line 1 what runn does with it (as in tests/books/);
they run against the built-in target, so CI runs them all (no runn checkout needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .test_runbook_books import expectation, run

BOOKS = sorted((Path(__file__).resolve().parent / "books" / "runn_compat").glob("*.yml"))
assert len(BOOKS) >= 18, "the runn feature books are missing"
pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("path", BOOKS, ids=lambda p: p.stem)
def test_runn_feature_gives_runns_outcome(target: TargetProcess, path: Path) -> None:
    failing_step = expectation(path)
    snapshot = run(path, target).snapshot()
    assert snapshot.iterations_total > 0
    if failing_step is None:
        assert snapshot.iterations_failed == 0, snapshot.failures
        return
    assert snapshot.iterations_failed == snapshot.iterations_total, snapshot.failures
    reasons = [reason for reason, _ in snapshot.failures]
    assert len(reasons) == 1, reasons
    assert reasons[0].startswith(f"{path.stem}:{failing_step}: "), reasons
