"""Sessions and virtual users: the live-adjustable load over shared runners, and the one
control surface (`Controls`, its `Command` values and `apply`) every controller shares."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

# Imported when first used (`__getattr__`): a URL run needs none of the target lists
# (`--targets`) behind `TargetFeed` and `TargetListScenario`.
if TYPE_CHECKING:
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

_EXPORTS = {
    "build_snapshot": ("._build", "build_snapshot"),
    "Abort": ("._controls", "Abort"),
    "Command": ("._controls", "Command"),
    "CommandControls": ("._controls", "CommandControls"),
    "ControlError": ("._controls", "ControlError"),
    "Controls": ("._controls", "Controls"),
    "Pause": ("._controls", "Pause"),
    "ResetStats": ("._controls", "ResetStats"),
    "Resume": ("._controls", "Resume"),
    "SetConcurrency": ("._controls", "SetConcurrency"),
    "SetHttpVersion": ("._controls", "SetHttpVersion"),
    "SetRate": ("._controls", "SetRate"),
    "SetReuseMode": ("._controls", "SetReuseMode"),
    "Stop": ("._controls", "Stop"),
    "apply": ("._controls", "apply"),
    "call_of": ("._controls", "call_of"),
    "describe": ("._controls", "describe"),
    "is_command": ("._controls", "is_command"),
    "level_at": ("._pacing", "level_at"),
    "Session": ("._session", "Session"),
    "SessionExtension": ("._session", "SessionExtension"),
    "Target": ("._target_list", "Target"),
    "TargetListError": ("._target_list", "TargetListError"),
    "TargetParser": ("._target_list", "TargetParser"),
    "parse_targets": ("._target_list", "parse_targets"),
    "TARGET_ORDERS": ("._targets", "ORDERS"),
    "TargetFeed": ("._targets", "TargetFeed"),
    "TargetListScenario": ("._targets", "TargetListScenario"),
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
