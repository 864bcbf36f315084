"""Session extensions the command line switches on."""

from __future__ import annotations

from engine import Session

from ._options import LoadPlan


def attach_extensions(session: Session, plan: LoadPlan) -> None:
    """Nothing yet beyond the session's own metrics."""
