"""The console: a Textual app that renders engine snapshots and turns keys into controls.

Attributes flow down (the app hands each snapshot to the dashboard, which hands it to its
panels); messages flow up (dialogs post what the user typed). The engine runs in its own
process behind a `Controller`, so drawing never slows the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.reactive import var

from ..engine import (
    Abort,
    Command,
    ControlError,
    HttpVersion,
    Pause,
    ResetStats,
    Resume,
    ReuseMode,
    SetHttpVersion,
    SetReuseMode,
    Snapshot,
    Stop,
    apply,
)
from ..engine.metrics.report import redact_snapshot
from ..engine.redact import redact_text
from .controller import Controller
from .level import HTTP_NAMES, RAMP_STEP, Level, Ramp, StagesGuard, next_http_version
from .live_thresholds import ABORT_CUT_S, LiveChecks
from .saving import ReportFiles, ReportRenderer
from .screens.dashboard import DashboardScreen
from .screens.help import HelpScreen
from .screens.summary import SummaryScreen
from .screens.value_dialog import ValueDialog

POLL_SECONDS = 0.25
THRESHOLD_SECONDS = 1.0  # as `loadscope run` checks them
LIVE_ACTIONS = frozenset(  # what leaves the footer once the run stops
    {"concurrency", "exact_value", "pause_resume", "cycle_reuse", "toggle_http", "reset_stats"}
)


@dataclass
class ConsoleOptions:
    label: str = ""  # the runbook(s) or URL, for the header
    summary_json: str | None = None
    save_dir: Path = Path(".")
    open_model: bool = False
    concurrency: int = 1
    rate: float = 0.0
    reuse_mode: str = ReuseMode.SHARED.value
    connect_timeout: float = 10.0
    staged: bool = False  # --stages set the level: the level keys say so and change nothing
    planned_s: float | None = None  # -d or the stages' total, for the header


class LoadscopeApp(App[int]):
    TITLE = "loadscope"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        # Stop and help first: what a narrow footer cuts is its tail. One footer entry per
        # pair: `+ -` steps by one, `] [` by ten.
        Binding("q", "quit_or_stop", "stop"),
        Binding("ctrl+c", "quit_or_stop", "stop", show=False, priority=True),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("plus,equals_sign", "concurrency(1)", "±1", key_display="+ -"),
        Binding("minus", "concurrency(-1)", "-1", key_display="-", show=False),
        Binding("right_square_bracket", "concurrency(10)", "±10", key_display="] ["),
        Binding("left_square_bracket", "concurrency(-10)", "-10", key_display="[", show=False),
        Binding("c", "exact_value", "set"),
        Binding("space", "pause_resume", "pause", key_display="␣"),
        Binding("m", "cycle_reuse", "reuse"),
        Binding("h", "toggle_http", "http"),
        Binding("r", "reset_stats", "reset"),
        Binding("s", "save", "save"),
    ]

    snapshot: var[Snapshot | None] = var(None, always_update=True)

    def __init__(
        self,
        controller: Controller,
        options: ConsoleOptions,
        render_report: ReportRenderer,
        *,
        poll_seconds: float = POLL_SECONDS,
        live: LiveChecks | None = None,
    ) -> None:
        super().__init__()
        self.controller = controller
        self.options = options
        self.render_report = render_report
        self._poll_seconds = poll_seconds
        self.live = live  # --threshold checked each second; with --abort-on-fail, may stop
        self.level = Level(
            open_model=options.open_model, concurrency=options.concurrency, rate=options.rate
        )
        self._reuse = ReuseMode(options.reuse_mode)
        self.ramp = Ramp(self, self._send_level, lambda: self.level.concurrency, self._is_live)
        self._stopping = False
        self.interrupted = False  # the user stopped the run before it ended on its own
        self._cut_by_user = False
        self._polled: Snapshot | None = None  # the controller's last, as it gave it
        self._http_sent: str | None = None  # the version last asked for, until a snapshot has it
        self._summary_shown = False
        self._stages = StagesGuard(options.staged, options.open_model, self.notify)
        self._errors_seen = 0
        self.files = ReportFiles(self, render_report, options)
        self.exit_code = 0

    @property
    def saved_paths(self) -> list[Path]:
        return self.files.saved_paths

    @property
    def write_failures(self) -> list[str]:
        return self.files.write_failures

    def command(self, command: Command) -> None:
        """Send `command` to the engine; one that cannot reach it is said, not raised."""
        try:
            apply(command, self.controller)
        except ControlError as exc:
            self.notify(redact_text(str(exc)), severity="error", title="engine", timeout=10)

    # -- lifecycle -----------------------------------------------------------------------------
    def on_mount(self) -> None:
        states = tuple(self.live.states()) if self.live else ()
        label = redact_text(self.options.label)
        self.push_screen(DashboardScreen(label, states, planned_s=self.options.planned_s))
        self.set_interval(self._poll_seconds, self.poll_engine)
        if states:
            self.set_interval(THRESHOLD_SECONDS, self.check_thresholds)
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            # SIGTERM and a SIGINT from outside stop the run like q: the report is still written
            for sig in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(sig, self.stop_run)

    def poll_engine(self) -> None:
        snap = self.controller.updates()
        if snap is not None and snap is not self._polled:  # polls repeat the latest snapshot
            self._polled = snap
            self.snapshot = redact_snapshot(snap)
        self._show_engine_errors()
        if self.controller.finished and not self._summary_shown:
            self._on_run_finished()

    def check_thresholds(self) -> None:
        """The thresholds on the measured numbers so far (not the warm-up's); one that fails
        with --abort-on-fail stops the run, and cuts what still runs a second later."""
        snapshot = self.snapshot
        if self.live is None or self._stopping or snapshot is None or snapshot.warming_up:
            return
        abort = self.live.check(snapshot)
        states = tuple(self.live.states())
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                screen.thresholds = states
        if abort is not None:
            self.notify(
                f"{abort.why} (at {abort.at_s:,.1f}s): stopping the run",
                severity="error",
                title="--abort-on-fail",
                timeout=10,
            )
            self.stop_run(by_user=False)
            self.set_timer(ABORT_CUT_S, self._cut_after_abort)

    def _cut_after_abort(self) -> None:
        if not self.controller.finished:
            self.command(Abort())

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            return
        if not self._stopping:
            self._sync_level(snapshot)
        if self._http_sent == snapshot.http_version:
            self._http_sent = None
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                screen.snapshot = snapshot

    def _sync_level(self, snapshot: Snapshot) -> None:
        self.level.follow(snapshot)
        self._show_asked()

    def _show_asked(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                screen.asked = self.level.asked

    def _send_level(self, value: float) -> None:
        command = self.level.ask(value, self.snapshot)
        self._show_asked()
        self.command(command)

    def _show_engine_errors(self) -> None:
        errors = self.controller.errors
        for message in errors[self._errors_seen :]:
            self.notify(redact_text(message), severity="error", title="engine")
        self._errors_seen = len(errors)

    def _on_run_finished(self) -> None:
        self._summary_shown = True
        self._stopping = True
        final = self.final_snapshot()
        if final is None:
            message = self.controller.exit_message or "the engine stopped"
            self.notify(message, severity="error", title="engine", timeout=30)
            self.exit_code = 2
            return
        self.snapshot = final = redact_snapshot(final)
        text, report = self.render_report(final, self.interrupted)
        saved = self.files.write_summary(report)
        self.clear_notifications()
        self._say_why_silent(final)
        self.refresh_bindings()
        self.push_screen(
            SummaryScreen(text, saved, report.get("thresholds"), report.get("aborted_by"))
        )

    def _say_why_silent(self, snapshot: Snapshot) -> None:
        """A run that got no answer says why, in the console as on stderr."""
        from .outputs.reasons import silence_reason

        reason = silence_reason(snapshot, self.options.connect_timeout)
        if reason:
            self.notify(reason, severity="error", title="no answer", timeout=30)

    def final_snapshot(self) -> Snapshot | None:
        """The engine's final snapshot, saying so when a second q cut the running work."""
        from .describe import cut_by

        final = self.controller.final
        return cut_by(final, "a second q") if final is not None and self._cut_by_user else final

    def rewrite_summary_on_exit(self) -> None:
        """`--summary-json` is written when the run stops and again on exit."""
        self.files.rewrite_summary(self.final_snapshot(), self.interrupted)

    # -- actions -------------------------------------------------------------------------------
    def _is_live(self) -> bool:
        return not self._stopping

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Once the run stops, the live controls leave the footer."""
        return not (action in LIVE_ACTIONS and self._stopping)

    def action_concurrency(self, delta: int) -> None:
        if not self._stopping and not self._stages.refuse_level_key():
            self.ramp.stop()
            self._send_level(max(0, self.level.value + delta))

    def action_exact_value(self) -> None:
        if self._stopping or self._stages.refuse_level_key():
            return
        if self.options.open_model:
            dialog = ValueDialog("Iterations per second", self.level.rate, integer=False)
        else:
            from .limits import vu_limit_reason

            dialog = ValueDialog(
                "Virtual users", self.level.concurrency, integer=True, limit=vu_limit_reason
            )
        self.push_screen(dialog, self._apply_exact_value)

    def _apply_exact_value(self, value: float | None) -> None:
        if value is None or self._stopping:
            return
        self.ramp.stop()
        if self.options.open_model or value - self.level.value <= RAMP_STEP:
            self._send_level(value)
        else:
            self.ramp.start(int(value))

    def action_pause_resume(self) -> None:
        if self._stopping or self.snapshot is None:
            return
        self.command(Resume() if self.snapshot.state == "paused" else Pause())

    def action_cycle_reuse(self) -> None:
        if self._stopping:
            return
        current = ReuseMode(self.snapshot.reuse_mode) if self.snapshot else self._reuse
        self._reuse = current.next()
        self.command(SetReuseMode(self._reuse))
        self.notify(f"reuse mode → {self._reuse.value}", timeout=2)

    def action_toggle_http(self) -> None:
        """The next HTTP version in the cycle; the header shows the one in effect."""
        if self._stopping:
            return
        current = self._http_sent or (self.snapshot.http_version if self.snapshot else "auto")
        version = next_http_version(current, self.snapshot.targets if self.snapshot else ())
        self._http_sent = version
        self.command(SetHttpVersion(HttpVersion(version)))
        self.notify(f"HTTP → {HTTP_NAMES[version]}", timeout=2)

    def action_reset_stats(self) -> None:
        if not self._stopping:
            self.command(ResetStats())
            self.notify("statistics reset; the run goes on", timeout=2)

    def action_save(self) -> None:
        snap = self.final_snapshot() or self.snapshot
        if snap is None:
            self.notify("nothing to save yet", severity="warning")
            return
        self.files.save(snap, self.interrupted)

    def action_quit_or_stop(self) -> None:
        if self._stopping and self.controller.finished:
            self.exit(self.exit_code)
        elif self._stopping:
            snap = self.snapshot
            if snap is None or not any(e.kind == "abort" for e in snap.events):
                self._cut_by_user = True  # before the grace period ran out
            self.command(Abort())  # a second q while stopping: cut in-flight work now
        else:
            self.stop_run()

    def stop_run(self, by_user: bool = True) -> None:
        """q, Ctrl-C, SIGTERM (`by_user`), or a threshold with --abort-on-fail."""
        if self._stopping:
            return
        self._stopping = True
        # a run already stopping on its own (its time is up, in-flight work drains) is not cut
        self.interrupted = by_user and not (self.snapshot and self.snapshot.state == "stopping")
        self.command(Stop())
        self.refresh_bindings()
        self.notify("stopping: finishing in-flight iterations…", timeout=3)

    @classmethod
    def key_bindings(cls) -> list[Binding]:
        return [binding for binding in cls.BINDINGS if isinstance(binding, Binding)]

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_bindings()))
