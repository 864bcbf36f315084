"""The table of functions expressions may call, by name (`hash.Sha256` too).

`_builtins_expr` registers expr-lang's built-ins, `_builtins_runn` runn's; expr-lang's predicate
built-ins (map, filter ...) take a closure and are compiled apart (`_builtins_predicates`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._ast import Call
from ._values import Compiled


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    least: int  # arguments
    most: int
    fn: Callable[..., Any]
    pure: bool = True  # same arguments, same result: folded at load when they are constants


FUNCTIONS: dict[str, FunctionSpec] = {}

# Compile-time checks of some calls: (the call, its compiled arguments) -> the arguments to use.
CALL_HOOKS: dict[str, Callable[[Call, list[Compiled]], list[Compiled]]] = {}

# The directory of the runbook being compiled: runn's `file()` reads relative to it.
BASE_DIR: ContextVar[Path | None] = ContextVar("BASE_DIR", default=None)


def register(name: str, least: int, most: int, pure: bool = True) -> Callable[..., Any]:
    """A decorator: `fn` is the function `name`, called with `least` to `most` arguments."""

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = FunctionSpec(least, most, fn, pure)
        return fn

    return add
