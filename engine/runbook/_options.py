"""`RunbookOptions`: how a set of runbooks is run, as runn's command-line flags set it."""

from __future__ import annotations

from dataclasses import dataclass

READ_PARENT = "read:parent"  # runn's scope that lets an `include:` leave the runbook's folder
KNOWN_SCOPES = (READ_PARENT, "read:remote", "run:exec", "run:agent")


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
    skip_test: bool = False  # runn's --skip-test: no `test:` is checked
    # runn's --host-rules: (host, address) pairs; a connection to host goes to address
    host_rules: tuple[tuple[str, str], ...] = ()
    # runn's --runner KEY:DSN: (key, dsn) pairs set on every top runbook, replacing its own
    runners: tuple[tuple[str, str], ...] = ()
    overlays: tuple[str, ...] = ()  # runn's --overlay files, laid over each top runbook
    underlays: tuple[str, ...] = ()  # runn's --underlay files, laid under each top runbook
    # runn's --concurrent: up to this many of an iteration's runbooks run at once (1: in turn)
    concurrent: int = 1
    # runn's --http-openapi3 [KEY:]FILE: (runner key, "" for every runner; document file)
    openapi3: tuple[tuple[str, str], ...] = ()

    @property
    def layered(self) -> bool:
        """Do the top runbooks differ from their files (--runner, --overlay, --underlay)?"""
        return bool(self.runners or self.overlays or self.underlays)

    def allows(self, scope: str) -> bool:
        """`scope` given, and not denied (`!read:parent`, as runn's `--scopes` denies one)."""
        return scope in self.scopes and f"!{scope}" not in self.scopes

    def scope_problem(self) -> str | None:
        """What is wrong with `scopes`, in one line; None when each is one runn knows."""
        for scope in sorted(self.scopes):
            if scope.removeprefix("!") not in KNOWN_SCOPES:
                known = ", ".join(KNOWN_SCOPES)
                return f"unknown scope {scope!r} (runn's scopes: {known}; `!` before one denies it)"
        return None


DEFAULT_OPTIONS = RunbookOptions()
