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
