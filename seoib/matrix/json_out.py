"""matrix.json: every cell, its verdict with reasons, the rules digest and the simulator tally.

``snapshot`` holds the loadvm cells (``seoib migrate --snapshot``) over the same
source, destination and VM classes as ``migration``; a VM's ``unregistered``
lists the stacks whose QEMU does not register its machine type.

Cells name stacks and VM classes by index and verdicts by index; verdicts name
their reasons by index into one citation list. Sharing keeps the file small;
one item per line keeps a diff of two matrices readable.
"""

from __future__ import annotations

import json
from typing import Any

from .build import Matrix
from .space import Stack

__all__ = ["FORMAT", "matrix_document", "matrix_json"]

FORMAT = "seoib-matrix/1"


def _citations(m: Matrix) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    index: dict[str, int] = {}
    cites: list[dict[str, Any]] = []
    verdicts = []
    for v in m.verdicts:
        refs = []
        for r in v["reasons"]:
            key = json.dumps(r, sort_keys=True)
            if key not in index:
                index[key] = len(cites)
                cites.append(r)
            refs.append(index[key])
        verdicts.append({**{k: x for k, x in v.items() if k != "reasons"}, "reasons": refs})
    return cites, verdicts


def _stack_json(s: Stack) -> dict[str, Any]:
    return {"label": s.label, "kernel": s.kernel.label, "qemu": list(s.qemus), "design": s.design}


def matrix_document(m: Matrix) -> dict[str, Any]:
    stacks: dict[str, int] = {}
    stack_list: list[dict[str, Any]] = []

    def sid(s: Stack) -> int:
        if s.label not in stacks:
            stacks[s.label] = len(stack_list)
            stack_list.append(_stack_json(s))
        return stacks[s.label]

    vms, policy, migration, snapshot = [], [], [], []
    for k, t in enumerate(m.tables):
        vms.append({"label": t.vm.label, "machine": t.vm.machine.label,
                    "machines": list(t.vm.machine.members), "irqchip": t.vm.irqchip or "default",
                    "ioapic": t.vm.ioapic or "default",
                    "ioapics": [{"device": d, "version": v} for d, v in t.ioapics],
                    "guest": t.vm.guest,
                    "migration": t.migration is not None,
                    "unregistered": [sid(s) for s, ok in zip(t.stacks, t.registered, strict=False)
                                     if not ok]})
        for s, vi in zip(t.stacks, t.policy, strict=True):
            v = m.verdicts[vi]
            policy.append({"host": sid(s), "vm": k, "policy": v.get("policy"),
                           "outcome": v["outcome"], "severity": v["severity"], "verdict": vi})
        for cells, grid in ((migration, t.migration), (snapshot, t.snapshot)):
            for src, line in zip(t.stacks, grid or [], strict=False):
                for dst, vi in zip(t.stacks, line, strict=True):
                    v = m.verdicts[vi]
                    cells.append({"src": sid(src), "dst": sid(dst), "vm": k,
                                  "outcome": v["outcome"], "severity": v["severity"],
                                  "verdict": vi})
    citations, verdicts = _citations(m)
    sp = m.space
    return {
        "format": FORMAT,
        "rules": {"digest": m.digest},
        "tally": m.tally(),
        "space": {"kernels": [{"label": k.label, "release": k.release, "members": list(k.members),
                               "longterm": list(k.longterm)} for k in sp.kernels],
                  "qemu": list(sp.qemus), "designs": list(sp.designs)},
        "stacks": stack_list,
        "vms": vms,
        "policy": policy,
        "migration": migration,
        "snapshot": snapshot,
        "verdicts": verdicts,
        "citations": citations,
    }


def dumps_lines(doc: dict[str, Any]) -> str:
    """JSON with one list item per line: valid, stable, and diffable."""
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join("  " + json.dumps(x, separators=(",", ":")) for x in value)
            parts.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def matrix_json(m: Matrix) -> bytes:
    return dumps_lines(matrix_document(m)).encode()
