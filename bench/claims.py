#!/usr/bin/env python3
"""The README's performance sentence, made from the latest engine table in bench/RESULTS.md.

    python bench/claims.py          # print the sentence
    python bench/claims.py --write  # put it in README.md and docs/index.md, between the markers

The latest table is the engine-against-peers table (`| client | req/s (median) | ...`) whose
"Measured DATE [HH:MM UTC]" line is the newest. The httpx comparison is httpx with one
`AsyncClient` per worker, the fair one: a single shared client is slow for reasons of its own pool.
`tests/test_docs.py` fails when a page's sentence is not the one this makes.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
PAGES = (ROOT / "README.md", ROOT / "docs" / "index.md")
BEGIN, END = "<!-- claims:engine -->", "<!-- /claims:engine -->"
MEASURED = re.compile(r"^Measured (\d{4}-\d{2}-\d{2})(?: (\d{2}:\d{2}) UTC)?")
HEADER = "| client | req/s (median) |"
LOADSCOPE, AIOHTTP, HTTPX, LOCUST = (
    "loadscope (uvloop)",
    "aiohttp",
    "httpx-per-worker",
    "Locust FastHttpUser",
)


@dataclass(frozen=True)
class EngineTable:
    date: str
    time: str  # "" when the table gives only the date
    setting: str  # what the Measured line says of the load, e.g. "c=50"
    rates: dict[str, float]  # client -> median req/s

    @property
    def when(self) -> str:
        return f"{self.date} {self.time} UTC" if self.time else self.date


def engine_tables(text: str) -> list[EngineTable]:
    """Every engine-against-peers table, in file order, with the date it was measured."""
    tables: list[EngineTable] = []
    measured: tuple[str, str, str] | None = None
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if match := MEASURED.match(line):
            concurrency = re.search(r"\bc=(\d+)", line)
            setting = f"{concurrency.group(1)} connections" if concurrency else ""
            measured = (match.group(1), match.group(2) or "", setting)
        elif line.startswith(HEADER) and measured is not None:
            tables.append(EngineTable(*measured, _rates(lines[index + 2 :])))
            measured = None
    return tables


def _rates(rows: list[str]) -> dict[str, float]:
    rates: dict[str, float] = {}
    for row in rows:
        if not row.startswith("|"):
            break
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        rates[cells[0]] = float(cells[1].replace(",", ""))
    return rates


def latest(tables: list[EngineTable]) -> EngineTable:
    """The newest table that compares loadscope with aiohttp and per-worker httpx."""
    usable = [t for t in tables if {LOADSCOPE, AIOHTTP, HTTPX} <= t.rates.keys()]
    if not usable:
        raise ValueError(f"{RESULTS.name} has no engine table with {LOADSCOPE}, {AIOHTTP}, {HTTPX}")
    return max(reversed(usable), key=lambda t: (t.date, t.time))


def sentence(table: EngineTable) -> str:
    rate = table.rates[LOADSCOPE]
    peers = [f"{_ratio(rate, table.rates[AIOHTTP])} aiohttp"]
    if LOCUST in table.rates:
        peers.append(f"{_ratio(rate, table.rates[LOCUST])} Locust's FastHttpUser")
    peers.append(f"{_ratio(rate, table.rates[HTTPX])} httpx with one `AsyncClient` per worker")
    return (
        f"In the latest measurement ({', '.join(filter(None, [table.when, table.setting]))}, "
        "one core against nginx) it sent "
        f"{rate:,.0f} requests per second: {_join(peers)}, in the same run "
        "([benchmarks](bench/RESULTS.md)). The absolute rate depends on the machine; the ratios "
        "are what to read."
    )


def _ratio(ours: float, theirs: float) -> str:
    ratio = ours / theirs
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def claim() -> str:
    return sentence(latest(engine_tables(RESULTS.read_text(encoding="utf-8"))))


def for_page(page: Path, text: str) -> str:
    """The sentence as `page` links it: docs/ pages link the benchmarks page."""
    if page.parent.name == "docs":
        return text.replace("(bench/RESULTS.md)", "(benchmarks.md)")
    return text


def quoted(page: Path) -> str | None:
    """What `page` holds between the markers, or None without them."""
    text = page.read_text(encoding="utf-8")
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    return match.group(1) if match else None


def write(page: Path, text: str) -> None:
    old = page.read_text(encoding="utf-8")
    head, rest = old.split(BEGIN, 1)
    page.write_text(f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")


def main(argv: list[str]) -> int:
    text = claim()
    if argv == ["--write"]:
        for page in PAGES:
            write(page, for_page(page, text))
            print(f"wrote the performance sentence into {page.relative_to(ROOT)}")
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
