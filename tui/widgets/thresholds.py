"""The thresholds row: each `--threshold` as last checked on the live numbers, under the header,
shown only when the run has thresholds."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..format import clock
from ..live_thresholds import ThresholdState


class ThresholdsRow(Widget):
    DEFAULT_CSS = """
    ThresholdsRow { height: auto; max-height: 3; background: $panel; color: $text; display: none; }
    ThresholdsRow.-checked { display: block; }
    """

    states: reactive[tuple[ThresholdState, ...]] = reactive((), always_update=True, layout=True)

    def watch_states(self, states: tuple[ThresholdState, ...]) -> None:
        self.set_class(bool(states), "-checked")

    def render(self) -> Text:
        text = Text(no_wrap=False)
        if not self.states:
            return text
        text.append(" thresholds ", style="bold reverse")
        for state in self.states:
            text.append("  ")
            text.append_text(threshold_cell(state))
        return text


def threshold_cell(state: ThresholdState) -> Text:
    """`✓ p99 < 200`, `✗ p99 < 200 failing, first at 12.0s`, `… p99 < 200` (nothing measured)."""
    cell = Text()
    if state.failing is None:
        cell.append(f"… {state.expression}", style="dim")
    elif state.failing:
        cell.append(f"✗ {state.expression}", style="bold red")
    else:
        cell.append(f"✓ {state.expression}", style="green")
    if state.first_failed_at_s is not None:
        now = "failing" if state.failing else "failed"
        cell.append(f" {now}, first at {_when(state.first_failed_at_s)}", style="red")
    return cell


def _when(seconds: float) -> str:
    """Seconds into the measured run, as the reports' `first_failed_at_s` (m:ss past a minute)."""
    return f"{seconds:.1f}s" if seconds < 60 else clock(seconds)
