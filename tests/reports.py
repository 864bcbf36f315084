"""Every JSON report a test produces is checked against the published schema."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema

from loadscope.engine import Snapshot
from loadscope.engine.metrics.report import build_report, report_schema


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validated(report: dict[str, Any]) -> dict[str, Any]:
    """The report itself, once it validates; loadt's JSON is checked under its "loadscope" key."""
    _validator().validate(report.get("loadscope", report))
    return report


def report_of(snapshot: Snapshot) -> dict[str, Any]:
    return validated(build_report(snapshot))
