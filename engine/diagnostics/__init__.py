"""Diagnostics: the connection ledger, the kernel's socket view, detectors, phases, generator load.

Everything here observes a session through the read-only `SessionView` protocol and changes it
only through the narrow `SessionPort`; nothing imports the session layer above.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

# Imported when first used (`__getattr__`): a run without `--log-requests` needs none of the
# request log's writer (SQLite, pickle, its process).
if TYPE_CHECKING:
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
    from ._request_rows import RequestRows
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

_EXPORTS = {
    "SETTLE_S": ("._detectors", "SETTLE_S"),
    "Detectors": ("._detectors", "Detectors"),
    "Kind": ("._detectors", "Kind"),
    "Observation": ("._detectors", "Observation"),
    "DetectorExtension": ("._extensions", "DetectorExtension"),
    "Diagnostics": ("._extensions", "Diagnostics"),
    "GeneratorExtension": ("._extensions", "GeneratorExtension"),
    "KernelExtension": ("._extensions", "KernelExtension"),
    "attach_diagnostics": ("._extensions", "attach_diagnostics"),
    "ConnectionLedger": ("._ledger", "ConnectionLedger"),
    "open_log": ("._log_writer", "open_log"),
    "PhaseExtension": ("._phases", "PhaseExtension"),
    "PhaseSpec": ("._phases", "PhaseSpec"),
    "phase_specs": ("._phases", "phase_specs"),
    "REQUEST_LOG_COLUMNS": ("._request_log", "COLUMNS"),
    "RequestLog": ("._request_log", "RequestLog"),
    "read_rows": ("._request_log", "read_rows"),
    "remove_request_log": ("._request_log", "remove_request_log"),
    "RequestRows": ("._request_rows", "RequestRows"),
    "udp_socket_counts": ("._udp", "udp_socket_counts"),
    "unix_stream_counts": ("._unix", "unix_stream_counts"),
    "DiagnosticsExtension": ("._view", "DiagnosticsExtension"),
    "ExtensionHost": ("._view", "ExtensionHost"),
    "PointFields": ("._view", "PointFields"),
    "SessionPort": ("._view", "SessionPort"),
    "SessionView": ("._view", "SessionView"),
    "SnapshotFields": ("._view", "SnapshotFields"),
    "overlay": ("._view", "overlay"),
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
    "RequestRows",
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
