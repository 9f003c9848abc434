"""JSON: the report object as schemas/check-output.schema.json describes it, written a
finding at a time (a fleet written host by host lists its host entries once, in
``host_sets``, not once per finding)."""

from __future__ import annotations

from collections.abc import Iterator

from ..checker import CheckReport

__all__ = ["json_chunks", "render_json"]


def json_chunks(report: CheckReport, fail_on: str) -> Iterator[str]:
    return report.chunks({"fail_on": fail_on, "exit_code": report.exit_code(fail_on)})


def render_json(report: CheckReport, fail_on: str) -> str:
    return "".join(json_chunks(report, fail_on))
