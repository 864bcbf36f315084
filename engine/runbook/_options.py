"""`RunbookOptions`: how a set of runbooks is run, as runn's command-line flags set it."""

from __future__ import annotations

from dataclasses import dataclass

READ_PARENT = "read:parent"  # runn's scope that lets an `include:` leave the runbook's folder
KNOWN_SCOPES = frozenset({READ_PARENT, "read:remote", "run:exec"})


@dataclass(frozen=True)
class RunbookOptions:
    """Options for `load_runbooks`.

    fail_fast: stop an iteration at the first runbook that fails (runn's `--fail-fast`); without
        it a failing runbook is recorded and the next runbook still runs.
    scopes: what runbooks may do beyond the defaults (runn's `--scopes`), e.g. "read:parent"
        lets an `include:` read a runbook outside the including runbook's folder.
    """

    fail_fast: bool = False
    scopes: frozenset[str] = frozenset()

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


DEFAULT_OPTIONS = RunbookOptions()
