"""loadscope: an interactive load console for HTTP services.

One import name holds everything: `loadscope.engine` (the load engine, no UI) and
`loadscope.tui` (the Textual console and the command line). In the source tree these are the
top-level folders `engine/` and `tui/`; setuptools maps them under this name (`package-dir`
in pyproject.toml). There are no links.

Nothing is imported here: the command line must take over signals before anything heavy loads.
"""

__version__ = "0.1.0"  # the one place it is written (pyproject.toml reads it from here)
