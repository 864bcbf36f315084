"""The docs' command reference page, generated from the argument parser itself.

    python -m loadscope.tui.cli._reference          # print it
    python -m loadscope.tui.cli._reference --write  # write it to docs/cli.md

`tests/test_cli_reference.py` fails when docs/cli.md and the parser disagree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from ._args import build_parser

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
USAGE_WIDTH = 100  # fixed, so the text does not depend on the terminal
REGENERATE = "python -m loadscope.tui.cli._reference --write"


def reference_markdown() -> str:
    """A section per command: what it does, its usage line, and every option with its help."""
    parser = build_parser()
    parts = [
        "# Command reference",
        "",
        f"Generated from the argument parser (`{REGENERATE}`); a test keeps it in sync.",
        "",
        "Each command's section ends with the exit codes it can give.",
        "",
        *_command("loadscope", parser),
    ]
    for name, command in _commands(parser):
        parts += _command(f"loadscope {name}", command)
    return "\n".join(parts).rstrip() + "\n"


def write_page(path: Path = PAGE) -> None:
    path.write_text(reference_markdown(), encoding="utf-8")


def _commands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                if id(command) not in seen:  # an alias (loadt's loadtest) is the same parser
                    seen.add(id(command))
                    yield name, command


def _command(title: str, parser: argparse.ArgumentParser) -> list[str]:
    lines = [f"## `{title}`", ""]
    if parser.description:
        lines += [" ".join(parser.description.split()), ""]
    lines += ["```text", _usage(parser), "```", ""]
    rows = [_row(action) for action in parser._actions if _documented(action)]
    if rows:
        lines += ["| Option | Description |", "|---|---|", *rows, ""]
    return lines + _exit_codes(parser)


def _exit_codes(parser: argparse.ArgumentParser) -> list[str]:
    """The command's own exit codes, as its --help ends with them."""
    codes = [line for line in (parser.epilog or "").splitlines() if line.startswith("Exit codes:")]
    return [*codes, ""] if codes else []


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _documented(action: argparse.Action) -> bool:
    return not isinstance(action, argparse._HelpAction | argparse._SubParsersAction) and (
        action.help != argparse.SUPPRESS
    )


def _row(action: argparse.Action) -> str:
    return f"| {_cell(_names(action))} | {_cell(_description(action))} |"


def _names(action: argparse.Action) -> str:
    formatter = argparse.HelpFormatter("loadscope")
    if not action.option_strings:
        return f"`{formatter._metavar_formatter(action, action.dest)(1)[0]}`"
    if action.nargs == 0:
        return ", ".join(f"`{option}`" for option in action.option_strings)
    metavar = formatter._format_args(action, action.dest.upper())
    return ", ".join(f"`{option} {metavar}`" for option in action.option_strings)


def _description(action: argparse.Action) -> str:
    text = " ".join((action.help or "").split())
    if "default" not in text and action.default not in (None, False, "", [], argparse.SUPPRESS):
        text += f" (default {action.default})"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments == ["--write"]:
        write_page()
        print(f"wrote the command reference to {PAGE}")
        return 0
    if arguments:
        print(
            f"usage: python -m loadscope.tui.cli._reference [--write]\n{__doc__}", file=sys.stderr
        )
        return 2
    sys.stdout.write(reference_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
