"""Session extensions the command line switches on.

The console's engine process calls `attach_extensions` too, so this module imports no Textual.
"""

from __future__ import annotations

from ...engine import Diagnostics, Session, attach_diagnostics
from ..outputs.files import CsvTimeline
from ._mix import attach_mix_report
from ._options import LoadPlan
from ._request_log import attach_request_log
from ._step_trace import show_steps


def attach_extensions(session: Session, plan: LoadPlan) -> Diagnostics:
    """The generator's load, the kernel view and the detectors (as `plan.config` switches them),
    and the `--phases` A/B run, on `session` before it starts."""
    diagnostics = attach_diagnostics(
        session, phases=[(phase.reuse_mode, phase.duration) for phase in plan.phases]
    )
    attach_request_log(session)  # --log-requests
    attach_mix_report(session, plan.spec.mix)  # --mix
    return diagnostics


def setup_child_session(
    plan: LoadPlan, session: Session, csv_path: str | None = None, *, trace_steps: bool = False
) -> None:
    """Runs in the engine process: the same extensions as a headless run, `--csv`, and with
    `trace_steps` the `--iterations` trace of every step."""
    attach_extensions(session, plan)
    if trace_steps:
        show_steps(session.scenario, plan.config.max_iterations)
    if csv_path:
        csv = CsvTimeline(csv_path)
        session.tick_listeners.append(csv.write)
