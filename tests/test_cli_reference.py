"""docs/cli.md, the command reference, is the argument parser's, word for word."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from loadscope.engine import ReuseMode
from loadscope.tui.cli._args import build_parser
from loadscope.tui.cli._reference import (
    PAGE,
    REGENERATE,
    _commands,
    reference_markdown,
    write_page,
)

from .cli_support import REPO


def test_the_docs_page_is_the_generated_reference() -> None:
    assert PAGE == REPO / "docs" / "cli.md"
    assert PAGE.read_text(encoding="utf-8") == reference_markdown(), (
        f"docs/cli.md, the command reference, is out of date: run `{REGENERATE}`"
    )


def test_the_write_option_writes_the_page(tmp_path: Path) -> None:
    page = tmp_path / "cli.md"
    page.write_text("stale\n", encoding="utf-8")
    write_page(page)
    assert page.read_text(encoding="utf-8") == reference_markdown()


def test_the_module_prints_the_reference() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "loadscope.tui.cli._reference"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert printed.returncode == 0 and printed.stderr == ""
    assert printed.stdout == reference_markdown()


def test_every_command_and_option_is_in_the_reference() -> None:
    reference = reference_markdown()
    for name, command in _commands(build_parser()):
        assert f"## `loadscope {name}`" in reference
        for action in command._actions:
            for flag in set(action.option_strings) - {"-h", "--help"}:
                assert f"`{flag}" in reference, (name, flag)
    assert "--reuse {" + ",".join(mode.value for mode in ReuseMode) + "}" in reference
