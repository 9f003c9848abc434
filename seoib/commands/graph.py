"""`seoib graph`: the live-migration graph over stack classes for one VM class.

Nodes are the stack classes the rules distinguish (kernel class x QEMU release x
SEOIB design); an edge src -> dst carries the migration verdict. Strongly
connected components of the non-blocking edges are migration pools: inside one,
a VM can move anywhere and back. Formats: json (default), graphml (networkx),
dot (written here, so pydot is not needed), svg (a layered picture of the
pools and the one-way moves between them, for people). ``--out FILE`` writes
the output to FILE (atomically) instead of stdout; without ``--format`` the
file's suffix chooses it.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import networkx as nx

from ..errors import BadInput, Disagreement
from ..files import check_output_file, replace_file
from ..matrix.pools import Pools, describe, pools_of
from ..matrix.svg import pools_svg
from ..query.classes import ClassSolver, MachineClass, VMClass, machine_classes, stack_classes
from ..rules.ruleset import RuleSet
from .common import add_rules, parse_vm, path_arg, rules_of

__all__ = ["FORMATS", "add_arguments", "build_graph", "run", "to_svg"]

FORMATS = ("json", "graphml", "dot", "svg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="json (default), graphml, dot, or svg (a picture of the pools); "
                        "with --out, the file's suffix chooses when this is not given")
    parser.add_argument("--out", metavar="FILE", type=path_arg, help="write to FILE instead of stdout")
    parser.add_argument("--vm", metavar="SPEC", help="VM class (default: the newest pc-q35 "
                        "machine class, irqchip split, guest any)")
    add_rules(parser)


def _vm_class(rs: RuleSet, text: str | None) -> VMClass:
    if text is None:
        q35 = [m for m in machine_classes(rs) if m.machine.startswith("pc-q35-")]
        if not q35:
            raise BadInput("the rule set has no pc-q35 machine class; pass --vm")
        return VMClass(q35[-1], irqchip="split", guest="any")
    spec = parse_vm(text)
    assert spec.machine is not None
    return VMClass(MachineClass(spec.machine, spec.machine, (spec.machine,)), spec.irqchip,
                   spec.ioapic, True if spec.x2apic is None else spec.x2apic,
                   spec.guest or "any", spec.seoib_policy)


def build_graph(rs: RuleSet, vmc: VMClass) -> tuple[nx.DiGraph, ClassSolver]:
    solver = ClassSolver(rs)
    stacks = stack_classes(rs)
    g = nx.DiGraph(vm=vmc.label)
    for s in stacks:
        boot = solver.policy(s, vmc)
        g.add_node(s.key, label=s.label, kernel=s.kernel.label, qemu=s.qemu, design=s.design,
                   boot=boot["outcome"], policy=str(boot.get("policy")))
    for src in stacks:
        for dst in stacks:
            if src is dst:
                continue
            v = solver.migrate(src, dst, vmc)
            rules = [r["rule"] for r in v["reasons"] if r["rule"] != "spec"]
            g.add_edge(src.key, dst.key, outcome=v["outcome"], severity=v["severity"],
                       label=f"{v['outcome']} ({v['severity']})", rules=", ".join(rules))
    found = pools_of(g, [(a, b) for a, b, d in g.edges(data=True) if d["severity"] != "block"])
    for n, i in found.pool_of().items():
        g.nodes[n]["pool"] = i
    g.graph["pools"] = [list(ms) for ms in found.members]
    g.graph["found"] = found
    return g, solver


def _dot_quote(text: Any) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(g: nx.DiGraph) -> str:
    lines = [f"digraph seoib {{  // VM class {g.graph['vm']}"]
    color = {"ok": "darkgreen", "warn": "orange", "block": "red"}
    for n, d in g.nodes(data=True):
        lines.append(f"  {_dot_quote(n)} [label={_dot_quote(d['label'])}, "
                     f"pool={d['pool']}, boot={_dot_quote(d['boot'])}];")
    for a, b, d in g.edges(data=True):
        lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)} [label={_dot_quote(d['outcome'])}, "
                     f"severity={_dot_quote(d['severity'])}, color={color[d['severity']]}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_json(g: nx.DiGraph, solver: ClassSolver) -> dict[str, Any]:
    return {
        "command": "graph",
        "vm": g.graph["vm"],
        "nodes": [{"id": n, **d} for n, d in g.nodes(data=True)],
        "edges": [{"src": a, "dst": b, "outcome": d["outcome"], "severity": d["severity"],
                   "rules": d["rules"].split(", ") if d["rules"] else []}
                  for a, b, d in g.edges(data=True)],
        "pools": g.graph["pools"],
        "witness": {"validated": solver.validated, "disagreements": solver.disagreements},
    }


def to_svg(g: nx.DiGraph, rs: RuleSet) -> str:
    """The pools of ``g`` as a layered SVG picture (boxes: pools; arrows: one-way moves)."""
    found: Pools = g.graph["found"]
    labels = {n: d["label"] for n, d in g.nodes(data=True)}
    qemus = list(dict.fromkeys(d["qemu"] for _, d in g.nodes(data=True)))
    designs = list(rs.resolver.designs)
    return pools_svg(found, f"Migration pools for VM class {g.graph['vm']}",
                     lambda ms: describe([labels[n] for n in ms], qemus, designs))


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(args.out).suffix.lstrip(".").lower() if args.out else ""
    return suffix if suffix in FORMATS else "json"


def _render(g: nx.DiGraph, solver: ClassSolver, rs: RuleSet, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_json(g, solver), indent=2) + "\n"
    if fmt == "dot":
        return to_dot(g)
    if fmt == "svg":
        return to_svg(g, rs)
    out = g.copy()
    out.graph = {"vm": g.graph["vm"], "pools": len(g.graph["pools"])}
    buf = io.BytesIO()
    nx.write_graphml(out, buf)
    return buf.getvalue().decode("utf-8")


def run(args: argparse.Namespace) -> int:
    fmt = _format(args)
    if args.out is not None:
        check_output_file(args.out, "--out")  # refused before the work, not after it
    rs = rules_of(args)
    g, solver = build_graph(rs, _vm_class(rs, args.vm))
    text = _render(g, solver, rs, fmt)
    if args.out is not None:
        replace_file(args.out, text.encode(), "--out")
        sys.stdout.write(f"wrote {fmt} to {args.out}\n")
    else:
        sys.stdout.write(text)
    if solver.disagreements:  # exit 4 with the one refusal line (JSON with --format json)
        sys.stdout.flush()
        raise Disagreement(f"the simulator does not reproduce {len(solver.disagreements)} "
                           "verdicts of this graph")
    return 0
