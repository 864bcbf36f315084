"""Sessions and virtual users: the live-adjustable load over shared runners."""

from ._build import build_snapshot
from ._session import Session, SessionExtension

__all__ = [
    "Session",
    "SessionExtension",
    "build_snapshot",
]
