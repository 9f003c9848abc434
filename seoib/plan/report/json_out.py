"""JSON: the report object as schemas/check-output.schema.json describes it."""

from __future__ import annotations

import json

from ..checker import CheckReport

__all__ = ["render_json"]


def render_json(report: CheckReport, fail_on: str) -> str:
    data = report.as_json()
    data["fail_on"] = fail_on
    data["exit_code"] = report.exit_code(fail_on)
    return json.dumps(data, indent=2) + "\n"
