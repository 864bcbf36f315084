"""loadscope: an interactive load console for HTTP services.

One import name holds everything: `loadscope.engine` (the load engine, no UI) and
`loadscope.tui` (the Textual console and the command line). In the source tree these are the
top-level folders `engine/` and `tui/`; `loadscope/` links them under this name.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("loadscope")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
