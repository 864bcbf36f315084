"""Diagnostics: the connection ledger, the kernel's socket view, detectors, phases, generator load.

Everything here observes a session through the read-only `SessionView` protocol; nothing imports
the session layer above.
"""

from ._detectors import SETTLE_S, Detectors, Kind, Observation
from ._diagnostics import (
    DetectorExtension,
    Diagnostics,
    GeneratorExtension,
    KernelExtension,
    attach_diagnostics,
)
from ._ledger import ConnectionLedger
from ._log_writer import open_log
from ._phases import PhaseExtension, PhaseSpec, phase_specs
from ._request_log import COLUMNS as REQUEST_LOG_COLUMNS
from ._request_log import RequestLog, read_rows, remove_request_log
from ._view import SessionView

__all__ = [
    "REQUEST_LOG_COLUMNS",
    "SETTLE_S",
    "ConnectionLedger",
    "DetectorExtension",
    "Detectors",
    "Diagnostics",
    "GeneratorExtension",
    "KernelExtension",
    "Kind",
    "Observation",
    "PhaseExtension",
    "PhaseSpec",
    "RequestLog",
    "SessionView",
    "attach_diagnostics",
    "open_log",
    "phase_specs",
    "read_rows",
    "remove_request_log",
]
