"""Renderers of a CheckReport: text (people), json (the contract), junit and sarif (CI)."""

from __future__ import annotations

from ..checker import CheckReport
from .json_out import render_json
from .junit import render_junit
from .sarif import render_sarif
from .text import render_text

__all__ = ["RENDERERS", "render"]

RENDERERS = {"text": render_text, "json": render_json, "junit": render_junit, "sarif": render_sarif}


def render(report: CheckReport, fmt: str, fail_on: str) -> str:
    return RENDERERS[fmt](report, fail_on)
