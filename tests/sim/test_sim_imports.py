"""The simulator's module graph: no import cycle (the guest model does not import the
QEMU model), each design module imports no other design but its base, and nothing
outside seoib.sim except seoib.errors and YAML loading."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import seoib.sim

SIM = Path(seoib.sim.__file__).parent
ALLOWED_OUTSIDE = {"seoib.errors", "seoib.yamlio"}


def _module(path: Path) -> str:
    parts = path.relative_to(SIM.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every engine module the file imports, TYPE_CHECKING blocks included."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.add(".".join([*base, node.module] if node.module else base))
            elif node.module and node.module.startswith("seoib"):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("seoib")}
    return out


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for path in SIM.rglob("*.py"):
        g.add_node(_module(path))
        for target in _imports(path):
            g.add_edge(_module(path), target)
    return g


def test_no_import_cycle_in_the_simulator() -> None:
    g = _graph().subgraph(n for n in _graph() if n.startswith("seoib.sim"))
    assert list(nx.simple_cycles(g)) == []


def test_the_guest_model_does_not_import_the_qemu_model() -> None:
    assert not nx.has_path(_graph(), "seoib.sim.guest", "seoib.sim.qemu")


def test_the_simulator_imports_nothing_of_the_engine_but_errors_and_yaml() -> None:
    outside = {t for _, t in _graph().edges if not t.startswith("seoib.sim")}
    assert outside <= ALLOWED_OUTSIDE


def test_each_design_module_stands_alone() -> None:
    g = _graph()
    designs = {n for n in g if n.startswith("seoib.sim.designs.") and not n.endswith(".base")}
    for d in designs:
        others = {t for t in g.successors(d) if t in designs}
        # machine-gated is the RFC's selection with a gate: the one permitted reuse.
        assert others <= {"seoib.sim.designs.rfc_v2"}, (d, others)
