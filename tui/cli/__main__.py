from loadscope.tui.cli import entry

entry()
