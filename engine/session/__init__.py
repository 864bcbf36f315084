"""Sessions and virtual users: the live-adjustable load over shared runners."""

from ._build import build_snapshot
from ._session import Session, SessionExtension
from ._target_list import Target, TargetListError, TargetParser, parse_targets
from ._targets import ORDERS as TARGET_ORDERS
from ._targets import TargetFeed, TargetListScenario

__all__ = [
    "TARGET_ORDERS",
    "Session",
    "SessionExtension",
    "Target",
    "TargetFeed",
    "TargetListError",
    "TargetListScenario",
    "TargetParser",
    "build_snapshot",
    "parse_targets",
]
