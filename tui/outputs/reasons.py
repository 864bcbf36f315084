"""Why a run got no answer at all: said on stderr and in the console, never a silent 0."""

from __future__ import annotations

from ...engine import Snapshot

CONNECT_KINDS = frozenset(
    {"connect_refused", "connect_error", "connect_timeout", "dns_error", "unreachable", "tls_error"}
)


def silence_reason(snapshot: Snapshot, connect_timeout: float) -> str:
    """One line when requests were sent and not a single response came back ("" otherwise:
    a runbook that sent nothing says so in its own warning)."""
    if snapshot.requests_total == 0 or any(count for _, count in snapshot.status_codes):
        return ""
    where = ", ".join(snapshot.targets) or "the target"
    if snapshot.errors:
        top = max(snapshot.errors, key=lambda error: error.count)
        times = f"{top.count:,} time{'s' if top.count != 1 else ''}"
        if top.kind in CONNECT_KINDS:
            return f"no connection could be made to {where}: {top.last_message} ({times})"
        return f"nothing was answered by {where}: {top.kind} ({times}): {top.last_message}"
    opened = snapshot.connections.opened_total
    return (
        f"nothing was answered by {where} in {snapshot.elapsed_s:.1f}s: {opened:,} "
        f"connection(s) opened, no response (--connect-timeout {connect_timeout:g}s, "
        "--timeout covers the rest)"
    )
