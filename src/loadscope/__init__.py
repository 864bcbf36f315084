"""loadscope: an interactive load console for HTTP services.

One import name holds everything: `loadscope.engine` (the load engine, no UI) and
`loadscope.tui` (the Textual console and the command line). In the source tree these are the
top-level folders `engine/` and `tui/`; setuptools maps them under this name (`package-dir`
in pyproject.toml). There are no links.

Nothing is imported here: the command line must take over signals before anything heavy loads.
"""


def __getattr__(name: str) -> object:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("loadscope")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'loadscope' has no attribute {name!r}")
