"""MkDocs hook: serve a few repository files beside the pages, at their repository paths.

The pictures, the example runbooks, the churn picture's report and the report schema live where
the code uses them (screenshots/, examples/, engine/metrics/); the pages link to them as
`screenshots/dashboard.png` or `examples/churn.yml`, and this hook adds them to the site so those
links resolve in `mkdocs build --strict` without keeping copies under docs/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
SERVED = ("screenshots/*.png", "screenshots/*.json", "examples/*.yml")
RENAMED = {"engine/metrics/report.schema.json": "report.schema.json"}


def on_files(files: Files, config: Any) -> Files:
    for pattern in SERVED:
        for path in sorted(ROOT.glob(pattern)):
            files.append(_served(path, path.relative_to(ROOT).as_posix(), config))
    for source, uri in RENAMED.items():
        files.append(_served(ROOT / source, uri, config))
    return files


def _served(path: Path, uri: str, config: Any) -> File:
    return File.generated(config, uri, abs_src_path=str(path))
