"""The docs site builds strictly, the README is a short front page, its claims are measured."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from textual.binding import Binding

from loadscope.tui.app import LoadscopeApp

from .cli_support import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
DEMO_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && loadscope"
TEST_COMMAND = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -q -e '.[test,ray]' "
    "--config-settings editable_mode=strict && python -m pytest -q -n auto --cov"
)


def _claims() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_claims", REPO / "bench" / "claims.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs and mkdocs-material are not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert (site / "cli" / "index.html").is_file()
    assert (site / "screenshots" / "dashboard.png").is_file()
    assert "loadscope run" in (site / "cli" / "index.html").read_text(encoding="utf-8")


def test_the_readme_is_a_front_page_with_the_two_commands_first() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    blocks = re.findall(r"```bash\n(.*?)\n```", text, re.S)
    assert blocks[:2] == [DEMO_COMMAND, TEST_COMMAND]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")  # CI runs the README's test command
    assert "\n" + TEST_COMMAND.rsplit(" && ", 1)[1] + "\n" in ci
    assert "![" in text.split("## ", 1)[0], "a picture before the first section"
    assert "## A five-minute tour" in text


def test_every_local_link_in_the_readme_resolves() -> None:
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert any(t.startswith("docs/") for t in local)
    missing = [t for t in local if not (REPO / t).exists()]
    assert not missing, missing


def test_every_docs_page_is_in_the_navigation() -> None:
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {path.name for path in DOCS.glob("*.md")}
    listed = set(re.findall(r":\s*([\w-]+\.md)\s*$", nav, re.M))
    assert pages == listed


def test_the_performance_sentence_quotes_the_latest_results() -> None:
    claims = _claims()
    expected = claims.claim()
    for page in claims.PAGES:
        assert claims.quoted(page) == claims.for_page(page, expected), (
            f"{page.name}'s performance sentence is not bench/RESULTS.md's latest table: "
            "run `python bench/claims.py --write`"
        )


RESULTS = """
Measured 2026-01-02 10:00 UTC with `bench_engine.py`: c=50, 5 rounds.

| client | req/s (median) | × httpx-shared | × aiohttp |
|---|---:|---:|---:|
| loadscope (uvloop) | 30,000 | 300.0× | 3.00× |
| aiohttp | 10,000 | 100.0× | 1.00× |
| httpx-shared | 100 | 1.0× | 0.01× |
| httpx-per-worker | 1,500 | 15.0× | 0.15× |
| Locust FastHttpUser | 6,000 | 60.0× | 0.60× |

Measured 2026-01-01 09:00 UTC, c=50.

| client | req/s (median) | × httpx-shared | × aiohttp |
|---|---:|---:|---:|
| loadscope (uvloop) | 99,000 | 990.0× | 9.90× |
| aiohttp | 10,000 | 100.0× | 1.00× |
| httpx-per-worker | 1,000 | 10.0× | 0.10× |
"""


def test_the_sentence_is_made_from_the_newest_table_against_per_worker_httpx() -> None:
    claims = _claims()
    table = claims.latest(claims.engine_tables(RESULTS))
    assert (table.date, table.time) == ("2026-01-02", "10:00")
    sentence = claims.sentence(table)
    assert "30,000 requests per second" in sentence
    assert "3.0× aiohttp" in sentence and "5.0× Locust's FastHttpUser" in sentence
    assert "20× httpx with one `AsyncClient` per worker" in sentence  # 30,000 / 1,500
    assert "300" not in sentence, "never the shared-pool httpx client"


def test_the_report_page_names_every_key_of_the_schema() -> None:
    schema = json.loads((REPO / "engine/metrics/report.schema.json").read_text(encoding="utf-8"))
    page = (DOCS / "reports.md").read_text(encoding="utf-8").split("## The JSON Schema")[0]
    missing = [key for key in schema["properties"] if f"`{key}`" not in page]
    assert not missing, f"docs/reports.md does not describe {missing}"


def test_the_console_page_names_every_key() -> None:
    page = (DOCS / "console.md").read_text(encoding="utf-8")
    for binding in LoadscopeApp.BINDINGS:
        if isinstance(binding, Binding) and binding.show:
            for key in (binding.key_display or binding.key).split():
                shown = {"␣": "space"}.get(key, key)
                assert f"`{shown}`" in page, (binding.key, shown)
