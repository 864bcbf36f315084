"""What a headless run ends with, in this process or over workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...engine import Snapshot

UNREACHABLE_KINDS = frozenset(
    {
        "connect_refused",
        "connect_error",
        "connect_timeout",
        "dns_error",
        "unreachable",
        "tls_error",
        "tls_verify",
        "resource_exhausted",
    }
)


@dataclass
class Outcome:
    snapshot: Snapshot
    interrupted: bool = False
    unreachable: str | None = None
    cut_by_user: bool = False  # a second Ctrl-C cut running work before the grace ran out
    report: dict[str, Any] = field(default_factory=dict)
    write_failures: list[str] = field(default_factory=list)  # files that could not be written
