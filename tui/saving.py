"""The console's files: the summary written when the run stops (`--summary-json`, or a JSON in
the save directory) and what `s` saves (JSON, text, a screenshot and HTML)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..engine import Snapshot

# The text and JSON report of a snapshot; the flag: the user stopped the run before its end.
ReportRenderer = Callable[[Snapshot, bool], tuple[str, dict[str, Any]]]


class Screen(Protocol):
    """What saving needs of the app (`LoadscopeApp` is one)."""

    def notify(
        self, message: str, *, title: str = "", severity: Any = "information", timeout: Any = None
    ) -> None: ...

    def save_screenshot(self, filename: str | None = None, path: str | None = None) -> str: ...


class SaveOptions(Protocol):
    """Where to write (`ConsoleOptions` is one; read at each write)."""

    save_dir: Path
    summary_json: str | None


class ReportFiles:
    """Writes the reports; says in the console what it saved, or what it could not write."""

    def __init__(
        self,
        screen: Screen,
        render_report: ReportRenderer,
        options: SaveOptions,
    ) -> None:
        self._screen = screen
        self._render = render_report
        self._options = options
        self.saved_paths: list[Path] = []
        self.write_failures: list[str] = []  # files that could not be written, said at exit

    def write_summary(self, report: dict[str, Any]) -> Path | None:
        from .outputs.files import write_failure, write_json

        summary = self._options.summary_json
        try:
            path = Path(summary) if summary else self._stem().with_suffix(".json")
            write_json(path, report)
        except OSError as exc:
            self._failed(write_failure(summary or str(self._options.save_dir), exc))
            return None
        self.saved_paths.append(path)
        return path

    def rewrite_summary(self, final: Snapshot | None, interrupted: bool) -> None:
        """`--summary-json` is written when the run stops and again on exit."""
        if final is not None and self._options.summary_json:
            _, report = self._render(final, interrupted)
            self.write_summary(report)

    def save(self, snap: Snapshot, interrupted: bool) -> None:
        """`s`: the report as JSON, text and HTML, and a screenshot, side by side."""
        from .outputs.files import write_failure, write_json
        from .outputs.html import write_html

        text, report = self._render(snap, interrupted)
        try:
            stem = self._stem()
            json_path, text_path = stem.with_suffix(".json"), stem.with_suffix(".txt")
            write_json(json_path, report)
            text_path.write_text(text, encoding="utf-8")
            svg = self._screen.save_screenshot(filename=stem.name + ".svg", path=str(stem.parent))
            html_path = stem.with_suffix(".html")
            write_html(html_path, snap, report)
        except OSError as exc:
            self._failed(write_failure(str(self._options.save_dir), exc))
            return
        svg_path = Path(svg)
        self.saved_paths += [json_path, text_path, svg_path, html_path]
        self._screen.notify(
            f"saved {json_path}, {text_path.name}, {svg_path.name}, {html_path.name}",
            title="saved",
            timeout=6,
        )

    def _failed(self, message: str) -> None:
        self.write_failures.append(message)
        self._screen.notify(message, severity="error", title="not saved", timeout=10)

    def _stem(self) -> Path:
        """`DIR/loadscope-YYYYmmdd-HHMMSS` in the save directory, made on first use."""
        save_dir = self._options.save_dir
        save_dir.mkdir(parents=True, exist_ok=True)
        return save_dir / f"loadscope-{time.strftime('%Y%m%d-%H%M%S')}"
