"""A dialog that asks for one number (the concurrency, or the rate in open mode)."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from ..format import number

MAX_CONCURRENCY = 100_000
MAX_RATE = 1_000_000.0


def parse_value(text: str, *, integer: bool) -> tuple[float | None, str]:
    """(value, error). Empty error means the value is good."""
    text = text.strip()
    if not text:
        return None, "type a number"
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        return None, f"{text!r} is not {kind}"
    if value != value or value < 0:  # NaN or negative
        return None, "must be 0 or more"
    limit = MAX_CONCURRENCY if integer else MAX_RATE
    if value > limit:
        return None, f"at most {number(limit)}"
    return value, ""


def _typed(value: float) -> str:
    """A value as one would type it: 1000000, never 1e+06 or 1,000,000."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class ValueDialog(ModalScreen[float | None]):
    CSS_PATH = "value_dialog.tcss"
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(
        self,
        title: str,
        current: float,
        *,
        integer: bool,
        limit: Callable[[float], str] | None = None,
    ) -> None:
        """`limit` says why a value is beyond what this machine can run ("" when it is not)."""
        super().__init__()
        self._title = title
        self._current = current
        self._integer = integer
        self._limit = limit

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"now {number(self._current)} — enter a new value, esc to cancel")
            yield Input(
                value=_typed(self._current),
                id="dialog-input",
                select_on_focus=True,
            )
            yield Label("", id="dialog-error")

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = self._title
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value, error = parse_value(event.value, integer=self._integer)
        if not error and value is not None and self._limit is not None:
            error = self._limit(value)
        if error:
            self.query_one("#dialog-error", Label).update(f"✗ {error}")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
