"""SARIF 2.1.0: one result per finding, located at its plan line; checks as rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ... import __version__
from ..checker import CheckReport
from ..findings import CHECKS

__all__ = ["render_sarif"]

_LEVEL = {"block": "error", "warn": "warning", "info": "note"}
_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _location(uri: str, line: int) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": uri},
                                 "region": {"startLine": max(line, 1)}}}


def render_sarif(report: CheckReport, fail_on: str) -> str:
    uri = Path(report.plan.source).as_posix()
    rules = [{"id": cid, "name": cid.split(".", 1)[1], "shortDescription": {"text": desc},
              "defaultConfiguration": {"level": _LEVEL[sev]}} for cid, (sev, desc) in CHECKS.items()]
    index = {cid: i for i, cid in enumerate(CHECKS)}
    results = []
    for f in report.findings:
        results.append({
            "ruleId": f.check,
            "ruleIndex": index[f.check],
            "level": _LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [_location(uri, f.line)],
            "relatedLocations": [{"id": 1, **_location(uri, f.vm_line),
                                  "message": {"text": f"VM entry {f.vm}"}}],
            "properties": {"wave": f.wave, "context": f.context, "engineRules": f.rules,
                           "hosts": [{"name": n, "count": c} for n, c in f.hosts.first()],
                           "hostCount": f.host_count, "hostEntries": f.hosts.entries,
                           "vms": [{"name": f.vm, "count": f.vm_count,
                                    "population": f.population, "booted": f.booted}],
                           "outcome": f.outcome, "cause": f.cause},
        })
    doc = {"$schema": _SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "seoib", "version": __version__,
                            "rules": rules}},
        "artifacts": [{"location": {"uri": uri}}],
        "results": results,
        "properties": {"failOn": fail_on, "exitCode": report.exit_code(fail_on)},
    }]}
    return json.dumps(doc, indent=2) + "\n"
