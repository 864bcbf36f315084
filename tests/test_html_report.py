"""`--html FILE`: one self-contained report file, checked as text and in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loadscope.engine.target import TargetProcess

from .browser import chromium, needs_chromium, screenshot_path
from .cli_support import EXAMPLES, loadscope

# One worker runs the module: its tests share the module fixture's runs.
pytestmark = pytest.mark.xdist_group("html_report")

RESOURCE_ATTRIBUTE = re.compile(r"""(src|href|xlink:href|action|srcset)\s*=""", re.IGNORECASE)


@pytest.fixture(scope="module")
def html_report(target: TargetProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run that ramps (its stages are change markers) and fails a threshold."""
    folder = tmp_path_factory.mktemp("html")
    result = loadscope(
        "run", target.http_url + "/json", "--stages", "2s:3,2s:6", "--html",
        str(folder / "report.html"), "--threshold", "p99 < 0.001", "-q",
    )  # fmt: skip
    assert result.code == 1, result.err
    return folder / "report.html"


@pytest.mark.slow
def test_the_report_has_every_part_and_fetches_nothing(html_report: Path) -> None:
    page = html_report.read_text(encoding="utf-8")
    for part in ("Summary", "Per second", "Latency histogram", "Steps", "Thresholds", "Changes"):
        assert f"<h2>{part}" in page
    assert "GET /json" in page
    assert page.count("<svg") == 5  # throughput, latency, connections, TIME_WAIT, histogram
    assert "<polyline" in page and 'class="marker"' in page
    assert not re.search(r"https?://", page)
    assert not RESOURCE_ATTRIBUTE.search(page)
    assert "<script" not in page and "@import" not in page and "url(" not in page


@pytest.mark.slow
def test_loadt_writes_the_html_report_too(target: TargetProcess, tmp_path: Path) -> None:
    path = tmp_path / "loadt.html"
    result = loadscope(
        "loadt", str(EXAMPLES / "users.yml"), "--duration", "1sec", "--warm-up", "0s",
        "--load-concurrent", "2", "--max-rps", "0", "--html", str(path),
        env={"TARGET": target.http_url},
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "<h2>Steps" in path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_an_unwritable_html_path_is_bad_input_before_any_request(tmp_path: Path) -> None:
    result = loadscope("run", "http://127.0.0.1:9/", "--html", str(tmp_path / "no" / "r.html"))
    assert result.code == 2
    assert result.error_line().startswith("loadscope: --html")


@pytest.mark.slow
@needs_chromium
def test_the_report_renders_offline_in_chromium(html_report: Path) -> None:
    errors: list[str] = []
    requests: list[str] = []
    url = html_report.as_uri()
    with chromium() as browser:
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url, wait_until="load")
        assert page.locator("svg.chart").count() == 5
        assert page.locator("h1").inner_text().startswith("loadscope report")
        page.screenshot(path=str(screenshot_path("report.png", html_report.parent)), full_page=True)
    assert errors == []
    assert requests == [url]  # the file itself, and nothing else


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_console_writes_the_html_report_when_it_exits(
    target: TargetProcess, tmp_path: Path
) -> None:
    import pexpect

    from .test_console_e2e import spawn

    path = tmp_path / "console.html"
    child = spawn(
        ["console", target.http_url, "-c", "2", "-d", "2s", "--html", str(path)], tmp_path
    )
    try:
        child.expect("Run stopped", timeout=45)
        child.send("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert f"saved {path}" in child.before.replace("\r", "")
    page = path.read_text(encoding="utf-8")
    assert "<h2>Summary" in page and page.count("<svg") >= 4
