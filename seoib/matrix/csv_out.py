"""migration.csv and policy.csv: one row per cell, labels spelled out for grep and diff.

A migration.csv row carries the live migration and, in the ``snapshot_*``
columns, the QMP loadvm of the source's snapshot on the same destination.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .build import Matrix

__all__ = ["migration_csv", "policy_csv", "rule_ids"]


def rule_ids(verdict: dict[str, Any]) -> str:
    return " ".join(r["rule"] for r in verdict["reasons"])


def _policy_of(state: dict[str, Any] | None) -> str:
    return "" if state is None else str(state["policy"])


def _render(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def migration_csv(m: Matrix) -> bytes:
    rows = []
    rules = [rule_ids(v) for v in m.verdicts]  # once per verdict, not per cell
    for t in m.tables:
        if t.migration is None:
            continue
        snap = t.snapshot or [[None] * len(t.stacks)] * len(t.stacks)
        for src, line, sline in zip(t.stacks, t.migration, snap, strict=True):
            for dst, vi, si in zip(t.stacks, line, sline, strict=True):
                v = m.verdicts[vi]
                s = m.verdicts[si] if si is not None else None
                rows.append([src.label, dst.label, t.vm.label, v["outcome"], v["severity"],
                             _policy_of(v.get("src_state")), _policy_of(v.get("dst_state")),
                             rules[vi], *_snapshot_columns(s, rules[si] if si is not None else "")])
    return _render(["src", "dst", "vm", "outcome", "severity", "src_policy", "dst_policy", "rules",
                    "snapshot_outcome", "snapshot_severity", "snapshot_dst_policy",
                    "snapshot_rules"], rows)


def _snapshot_columns(v: dict[str, Any] | None, rules: str) -> list[str]:
    if v is None:
        return ["", "", "", ""]
    return [v["outcome"], v["severity"], _policy_of(v.get("dst_state")), rules]


def policy_csv(m: Matrix) -> bytes:
    rows = []
    for t in m.tables:
        for host, vi in zip(t.stacks, t.policy, strict=True):
            v = m.verdicts[vi]
            rows.append([host.label, t.vm.label, str(v.get("policy") or ""), v["outcome"],
                         v["severity"], rule_ids(v)])
    return _render(["host", "vm", "policy", "outcome", "severity", "rules"], rows)
