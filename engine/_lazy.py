"""PEP 562 for the engine's packages: a package's public names, each imported from its module on
first use and then kept in the package, so a command imports only what it uses."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

# name -> its module (relative to the package), or (module, the name there)
Exports = Mapping[str, str | tuple[str, str]]


def lazy_exports(package: str, exports: Exports) -> Callable[[str], object]:
    """The module `__getattr__` of `package`, serving the names of `exports`."""

    def __getattr__(name: str) -> object:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = (target, name) if isinstance(target, str) else target
        value = getattr(importlib.import_module(module, package), attribute)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
