"""Renderers of a CheckReport: text (people), json (the contract), junit and sarif (CI)."""

from __future__ import annotations

from collections.abc import Iterator

from ..checker import CheckReport
from .json_out import json_chunks, render_json
from .junit import render_junit
from .sarif import render_sarif
from .text import render_text

__all__ = ["RENDERERS", "chunks", "render"]

RENDERERS = {"text": render_text, "json": render_json, "junit": render_junit, "sarif": render_sarif}


def render(report: CheckReport, fmt: str, fail_on: str) -> str:
    return RENDERERS[fmt](report, fail_on)


def chunks(report: CheckReport, fmt: str, fail_on: str) -> Iterator[str]:
    """The rendered report in pieces, for writing as it is made (JSON streams its findings)."""
    if fmt == "json":
        return json_chunks(report, fail_on)
    return iter((render(report, fmt, fail_on),))
