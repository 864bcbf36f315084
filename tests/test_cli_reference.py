"""README.md's command reference is the argument parser's, word for word."""

from __future__ import annotations

import subprocess
import sys

from loadscope.engine import ReuseMode
from loadscope.tui.cli._args import build_parser
from loadscope.tui.cli._reference import (
    BEGIN,
    END,
    README,
    REGENERATE,
    _commands,
    readme_section,
    reference_markdown,
)

from .cli_support import REPO


def test_readme_holds_the_generated_reference() -> None:
    text = README.read_text(encoding="utf-8")
    section = readme_section(text)
    assert section is not None, (
        f"README.md needs the markers {BEGIN} and {END} around the command reference; "
        f"run `{REGENERATE}` to add them with the reference"
    )
    assert section == reference_markdown(), (
        f"README.md's command reference is out of date: run `{REGENERATE}`"
    )


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
        assert f"### `loadscope {name}`" in reference
        for action in command._actions:
            for flag in set(action.option_strings) - {"-h", "--help"}:
                assert f"`{flag}" in reference, (name, flag)
    assert "--reuse {" + ",".join(mode.value for mode in ReuseMode) + "}" in reference
