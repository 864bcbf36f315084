"""The demo runbooks (`loadscope demo`), shipped inside the package as `loadscope.examples`.

A regular package, not a namespace: setuptools' default editable install (`pip install -e .`)
finds a mapped folder only by its `__init__.py`."""
