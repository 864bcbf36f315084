"""Sessions and virtual users: the live-adjustable load over shared runners, and the one
control surface (`Controls`, its `Command` values and `apply`) every controller shares."""

from ._build import build_snapshot
from ._controls import (
    Abort,
    Command,
    CommandControls,
    ControlError,
    Controls,
    Pause,
    ResetStats,
    Resume,
    SetConcurrency,
    SetHttpVersion,
    SetRate,
    SetReuseMode,
    Stop,
    apply,
    call_of,
    describe,
    is_command,
)
from ._pacing import level_at
from ._session import Session, SessionExtension
from ._target_list import Target, TargetListError, TargetParser, parse_targets
from ._targets import ORDERS as TARGET_ORDERS
from ._targets import TargetFeed, TargetListScenario

__all__ = [
    "TARGET_ORDERS",
    "Abort",
    "Command",
    "CommandControls",
    "ControlError",
    "Controls",
    "Pause",
    "ResetStats",
    "Resume",
    "Session",
    "SessionExtension",
    "SetConcurrency",
    "SetHttpVersion",
    "SetRate",
    "SetReuseMode",
    "Stop",
    "Target",
    "TargetFeed",
    "TargetListError",
    "TargetListScenario",
    "TargetParser",
    "apply",
    "build_snapshot",
    "call_of",
    "describe",
    "is_command",
    "level_at",
    "parse_targets",
]
