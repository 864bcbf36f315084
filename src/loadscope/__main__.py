"""`python -m loadscope`: the command line."""

from loadscope.tui.cli import entry

entry()
