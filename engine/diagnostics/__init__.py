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
from ._phases import PhaseExtension, PhaseSpec, phase_specs
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
    "SessionPort",
    "SessionView",
    "SnapshotFields",
    "attach_diagnostics",
    "overlay",
    "phase_specs",
]
