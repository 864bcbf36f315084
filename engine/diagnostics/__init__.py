"""Diagnostics: the connection ledger, the kernel's socket view, detectors, phases, generator load.

Everything here observes a session through the read-only `SessionView` protocol; nothing imports
the session layer above.
"""
