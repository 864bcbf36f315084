"""How the command line asks runbooks to run (runn's own flags), for `load_runbooks`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunbookOptions:
    fail_fast: bool = False  # runn's --fail-fast: the first failing runbook ends the iteration
    scopes: frozenset[str] = frozenset()  # runn's --scopes, e.g. "read:parent"
    skip_test: bool = False  # runn's --skip-test: no `test:` is checked
    host_rules: Mapping[str, str] = field(default_factory=dict)  # --host-rules: host -> address
