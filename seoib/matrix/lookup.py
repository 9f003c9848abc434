"""What the query panel of index.html needs to resolve what the command line resolves.

The panel answers from the embedded cells, without a server, so the rule data that
turns a typed stack into a cell travels with the page, as plain JSON:

* kernels: the distribution schemes of ``kernels.yaml`` (their patterns in the
  JavaScript dialect: ``(?P<name>`` becomes ``(?<name>``), the mainline series and
  the newest one (a release past it is judged as the newest, as the lineage does),
  the longterm lines, and every ``builds`` release with its kernel class;
* machine types: each alias's target per QEMU release of the space, and the
  downstream schemes (RHEL, Ubuntu, Proxmox ``+pveN``) as name maps and patterns;
* citations: each QEMU release's own citation, and per kernel class member (``4.8``,
  ``6.18.0..6.18.16``, ``6.18.17+``) the changes on its lineage path with the
  capabilities each brings, so that an answer for a release a class stands for
  cites that release's path (6.18.17's backport, not 7.0's introduction).

Only rule data is exported; the panel's script (page/page.js) applies it.
"""

from __future__ import annotations

import re
from typing import Any

from ..query.classes import KernelClass
from ..rules.ruleset import RuleSet
from ..rules.specs import HostSpec
from .portable import portable

__all__ = ["panel_lookup"]

_NAMED_GROUP = re.compile(r"\(\?P<")


def _js(pattern: str) -> str:
    """A Python pattern as JavaScript reads it (named groups are the one difference used)."""
    return _NAMED_GROUP.sub("(?<", pattern)


def _kernel_class(rs: RuleSet, kernels: tuple[KernelClass, ...], release: str) -> int | None:
    any_qemu = str(rs.resolver.qemu.newest.version)
    facts = rs.resolver.host(HostSpec(kernel=release, qemu=any_qemu)).facts
    kernel_facts = tuple(sorted((k, v) for k, v in facts.items() if k.startswith("kernel.")))
    for i, k in enumerate(kernels):
        if k.facts == kernel_facts:
            return i
    return None


def panel_lookup(rs: RuleSet, kernels: tuple[KernelClass, ...], qemus: tuple[str, ...]) -> dict[str, Any]:
    """The rule data the panel resolves typed stacks and machine types with (JSON-ready)."""
    r = rs.resolver
    lineage = r.kernels
    schemes = [{"id": s.change.id.rsplit(".", 1)[-1], "pattern": _js(s.pattern.pattern),
                "group": s.group, "confirmed": s.change.confirmed, "examples": list(s.examples)}
               for s in lineage.schemes]
    builds = {text: _kernel_class(rs, kernels, text) for text in lineage.builds}
    aliases = {alias: {q: r.qemu.alias_target(r.qemu.resolve(q), alias) for q in qemus}
               for alias in r.machines.aliases}
    downstream = [{"id": d.id, "types": dict(d.types), "confirmed": d.confirmed,
                   "pattern": _js(d.pattern.pattern) if d.pattern is not None else None}
                  for d in r.machines.downstream]
    chains = {}
    for k in kernels:
        for piece in k.members:
            res = lineage.resolve(piece.split("..")[0].rstrip("+"))
            chains[piece] = [{"rule": ch.id, "text": portable(ch.description),
                              "source": portable(ch.source), "caps": list(ch.capabilities)}
                             for ch in res.because]
    cites = {}
    for q in qemus:
        c = r.qemu.resolve(q).citation().as_json()
        cites[q] = {k: portable(c[k]) for k in ("rule", "text", "source") if k in c}
    return {"kernels": {"schemes": schemes, "mainline": lineage.mainline,
                        "newest": max(lineage.mainline, key=lambda s: tuple(map(int, s.split(".")))),
                        "longterm": list(lineage.longterm), "builds": builds,
                        "chains": chains},
            "aliases": aliases, "downstream": downstream, "qemu_citations": cites}
