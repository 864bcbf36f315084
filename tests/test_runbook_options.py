"""`RunbookOptions`: the contract the command line passes to `load_runbooks`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from loadscope.engine.runbook import RunbookOptions, load_runbooks


def test_options_are_frozen_with_runn_defaults() -> None:
    options = RunbookOptions()
    assert options.fail_fast is False
    assert options.scopes == frozenset()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.fail_fast = True  # type: ignore[misc]


def test_load_runbooks_takes_options(tmp_path: Path) -> None:
    book = tmp_path / "b.yml"
    book.write_text("steps:\n  - test: true\n")
    options = RunbookOptions(fail_fast=True, scopes=frozenset({"read:parent"}))
    scenario = load_runbooks([book], options=options)
    assert scenario.options is options


def test_a_child_process_builds_with_the_same_options(tmp_path: Path) -> None:
    """What a worker or the engine process loads comes from a pickled ScenarioSpec."""
    import pickle

    from loadscope.engine.control import ScenarioSpec

    book = tmp_path / "b.yml"
    book.write_text("steps:\n  - test: true\n")
    options = RunbookOptions(fail_fast=True, scopes=frozenset({"read:parent"}))
    spec = pickle.loads(pickle.dumps(ScenarioSpec(runbooks=(str(book),), runbook_options=options)))
    assert spec.build().options == options  # type: ignore[attr-defined]
    url = pickle.loads(pickle.dumps(ScenarioSpec(url="http://127.0.0.1:9/", max_redirects=3)))
    assert url.build().max_redirects == 3  # type: ignore[attr-defined]
