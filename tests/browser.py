"""Headless Chromium for the tests that look at pages: Debian's /usr/bin/chromium, driven by
Playwright (no browser download). Tests skip, saying why, only when it is not installed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO_SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


def screenshot_path(name: str, tmp_path: Path) -> Path:
    """Where a browser test saves its picture: the repository's screenshots/ only when asked
    (LOADSCOPE_UPDATE_SCREENSHOTS=1), so running the tests leaves a checkout unchanged."""
    directory = REPO_SCREENSHOTS if os.environ.get("LOADSCOPE_UPDATE_SCREENSHOTS") else tmp_path
    directory.mkdir(exist_ok=True)
    return directory / name


FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless browser tests need /usr/bin/chromium "
    "(apt-get install -y chromium chromium-driver)",
)

if CHROMIUM.exists():
    from playwright.sync_api import BrowserContext, sync_playwright
else:  # pragma: no cover
    BrowserContext = object


@contextmanager
def chromium(width: int = 1100, height: int = 900) -> Iterator[BrowserContext]:
    """A fresh browser with a fresh profile, closed afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="loadscope-chromium-") as profile,
        sync_playwright() as p,
    ):
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()
