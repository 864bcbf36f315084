"""Diagnostics: the connection ledger, the kernel's socket view, detectors, phases, generator load.

Everything here observes a session through the read-only `SessionView` protocol and changes it
only through the narrow `SessionPort`; nothing imports the session layer above.
"""

from ._detectors import SETTLE_S, Detectors, Kind, Observation
from ._extensions import (
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
from ._udp import udp_socket_counts
from ._unix import unix_stream_counts
from ._view import (
    DiagnosticsExtension,
    ExtensionHost,
    PointFields,
    SessionPort,
    SessionView,
    SnapshotFields,
    overlay,
)

__all__ = [
    "REQUEST_LOG_COLUMNS",
    "SETTLE_S",
    "ConnectionLedger",
    "DetectorExtension",
    "Detectors",
    "Diagnostics",
    "DiagnosticsExtension",
    "ExtensionHost",
    "GeneratorExtension",
    "KernelExtension",
    "Kind",
    "Observation",
    "PhaseExtension",
    "PhaseSpec",
    "PointFields",
    "RequestLog",
    "SessionPort",
    "SessionView",
    "SnapshotFields",
    "attach_diagnostics",
    "open_log",
    "overlay",
    "phase_specs",
    "read_rows",
    "remove_request_log",
    "udp_socket_counts",
    "unix_stream_counts",
]
