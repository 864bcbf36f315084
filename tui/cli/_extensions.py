"""Session extensions the command line switches on.

The console's engine process calls `attach_extensions` too, so this module imports no Textual.
"""

from __future__ import annotations

from loadscope.engine import Diagnostics, Session, attach_diagnostics

from ._options import LoadPlan


def attach_extensions(session: Session, plan: LoadPlan) -> Diagnostics:
    """The generator's load, the kernel view and the detectors (as `plan.config` switches them),
    and the `--phases` A/B run, on `session` before it starts."""
    return attach_diagnostics(
        session, phases=[(phase.reuse_mode, phase.duration) for phase in plan.phases]
    )
