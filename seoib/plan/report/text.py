"""Terminal text: the verdict and a per-wave summary first, then each finding.

Names are the plan's own: every line is escaped for the terminal, so a name
cannot forge a line or send escape sequences."""

from __future__ import annotations

from typing import Any

from ..checker import CheckReport
from ..findings import Finding
from ..names import compact
from .escape import terminal_safe

__all__ = ["render_text"]

_TAG = {"block": "BLOCK", "warn": "WARN", "info": "NOTE", "ok": "OK"}


def _tally(findings: list[Finding]) -> str:
    parts = []
    for sev, word in (("block", "blocking"), ("warn", "warnings"), ("info", "notes")):
        n = sum(1 for f in findings if f.severity == sev)
        if n:
            parts.append(f"{n} {word}")
    return ", ".join(parts) or "ok"


def _hosts(listed: list[dict[str, Any]]) -> str:
    """A wave's host entries: a few names, with how many hosts when groups or many."""
    if len(listed) <= 3:
        return ", ".join(f"{h['name']}" + (f" ({h['count']})" if h["count"] > 1 else "")
                         for h in listed)
    total = sum(h["count"] for h in listed)
    return f"{compact([h['name'] for h in listed])} ({total:,} hosts)"


def _finding(f: Finding, source: str) -> list[str]:
    vms = f"{f.vm_count} VM{'s' if f.vm_count != 1 else ''}"
    if f.cause == "pre-existing":
        vms += ", before the rollout already"
    lines = [f"[{_TAG[f.severity]}] {f.check}  {source}:{f.line}  ({vms})", f"    {f.message}"]
    decided = [r for r in f.rules if "." in r][-4:]
    if decided:
        lines.append(f"    decided by: {', '.join(decided)}")
    return lines


def render_text(report: CheckReport, fail_on: str) -> str:
    p = report.plan
    fleet = report.fleet_json()
    status = report.status()
    lines = [f"{_TAG[status]}: {p.source}: {_tally(report.findings)}",
             f"  fleet: {fleet['hosts']} hosts in {fleet['host_entries']} entries, {fleet['vms']} VMs in "
             f"{fleet['vm_entries']} entries -> {fleet['blocks']} blocks of alike hosts, "
             f"{fleet['host_classes']} host classes, "
             f"{fleet['vm_classes']} VM classes, {fleet['evaluations']} verdicts"]
    by_wave: dict[int, list[Finding]] = {}
    for f in report.findings:
        by_wave.setdefault(f.wave_index, []).append(f)
    lines.append(f"  before the rollout: {_tally(by_wave.get(0, []))}")
    for w in report.waves:
        hosts = _hosts(w["hosts"])
        changes = ", ".join(f"{k}={v}" for k, v in w["set"].items())
        lines.append(f"  wave {w['index']} {w['name']} [{hosts}] set {changes}: "
                     f"{_tally(by_wave.get(w['index'], []))}")
    if report.disagreements:
        lines.append(f"  ERROR: the simulator disagrees with {len(report.disagreements)} verdicts")
    else:
        lines.append(f"  simulator: agrees with all {report.fleet.validated} verdicts it replayed")
    if report.findings:
        lines.append("")
        lines.append("findings:")
        for f in report.findings:
            lines.extend(_finding(f, p.source))
    code = report.exit_code(fail_on)
    lines.append("")
    lines.append(f"exit {code} (--fail-on {fail_on})")
    # Each entry is one line: a name holding a newline or ESC is shown escaped.
    return "\n".join(terminal_safe(line) for line in lines) + "\n"
