"""The engine's layers and the direction of every import between them.

Each module of seoib/ belongs to one layer; a module may import only its own
layer and the layers listed for it below. The chain is::

    shared leaves <- rules <- query <- plan, matrix, inputs, serve, lab <- commands, cli

Building a rule set (seoib/rules) knows nothing of answering with one
(seoib/query); the simulator (seoib/sim) is an independent oracle that reads
only errors and YAML; the KVM host backend (seoib/kvmhost) adds only the
simulator. Imports are read with ast - at the top of a module, inside
functions and under ``if TYPE_CHECKING`` alike - so a lazy import cannot hide a
wrong direction. Among plan, matrix, inputs and serve, imports between packages
may not form a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "seoib"

FRONT = ("seoib.cli", "seoib.__main__", "seoib.commands")
USES = ("seoib.plan", "seoib.matrix", "seoib.inputs", "seoib.serve", "seoib.lab")

# layer -> the layers its modules may import (besides their own)
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "shared": (),
    "sim": (),
    "kvmhost": ("sim",),
    "rules": ("shared",),
    "query": ("shared", "rules", "sim"),
    "uses": ("shared", "rules", "query", "sim", "kvmhost"),
    "front": ("shared", "rules", "query", "sim", "kvmhost", "uses"),
}
# The simulator and the KVM backend read nothing of the engine but these leaves.
ORACLE_LEAVES = ("seoib.errors", "seoib.yamlio")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> str | None:
    """The layer of an engine module; None for a module no layer claims."""
    if any(_within(module, p) for p in FRONT):
        return "front"
    if any(_within(module, p) for p in USES):
        return "uses"
    for name in ("rules", "query", "sim", "kvmhost"):
        if _within(module, f"seoib.{name}"):
            return name
    if module == "seoib" or module.count(".") == 1 or _within(module, "seoib.examples"):
        return "shared"  # the package itself and its top-level modules; bundled example data
    return None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_imports(root: Path) -> dict[str, set[str]]:
    """Every module under ``root`` (a ``seoib`` folder) -> the engine modules it imports."""
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(p, root) for p in paths}
    table: dict[str, set[str]] = {}
    for path in paths:
        name = module_name(path, root)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:  # `from seoib import cli` imports a module
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in modules else base)
        table[name] = {m for m in found if _within(m, "seoib")}
    return table


def violations(table: Mapping[str, Iterable[str]]) -> list[str]:
    """Every import in ``table`` against the layers, as readable lines; empty when all hold."""
    out: list[str] = []
    for module, targets in sorted(table.items()):
        layer = layer_of(module)
        if layer is None:
            out.append(f"{module}: in no layer (add its package to tests/test_layers.py)")
            continue
        for target in sorted(targets):
            other = layer_of(target)
            if layer in ("sim", "kvmhost"):
                own = ("seoib.sim",) if layer == "sim" else ("seoib.sim", "seoib.kvmhost")
                if not (target in ORACLE_LEAVES or any(_within(target, p) for p in own)):
                    out.append(f"{module} -> {target}: the {layer} layer reads only "
                               f"{', '.join(ORACLE_LEAVES)} and {', '.join(own)}")
            elif other is None or (other != layer and other not in MAY_IMPORT[layer]):
                out.append(f"{module} ({layer}) -> {target} ({other}): against the layer order")
    return out + _package_cycles(table)


def _package_cycles(table: Mapping[str, Iterable[str]]) -> list[str]:
    """Cycles between the packages of the 'uses' layer (plan, matrix, inputs, serve)."""
    def package(m: str) -> str | None:
        return next((p for p in USES if _within(m, p)), None)

    edges: dict[str, set[str]] = {p: set() for p in USES}
    for module, targets in table.items():
        src = package(module)
        for target in targets:
            dst = package(target)
            if src and dst and dst != src:
                edges[src].add(dst)
    out = []
    for start in USES:
        seen, todo = set(), list(edges[start])
        while todo:
            p = todo.pop()
            if p == start:
                out.append(f"{start}: its imports lead back to it ({sorted(edges[start])})")
                break
            if p not in seen:
                seen.add(p)
                todo.extend(edges[p])
    return out


def test_every_import_of_the_engine_follows_the_layers() -> None:
    assert violations(read_imports(ENGINE)) == []


def test_the_reader_sees_every_module_and_the_known_edges() -> None:
    table = read_imports(ENGINE)
    assert {"seoib.rules.ruleset", "seoib.query.api", "seoib.sim.qemu", "seoib.cli"} <= set(table)
    assert "seoib.rules.ruleset" in table["seoib.query.api"]
    assert "seoib.__version__" not in table["seoib.cli"]  # a name of the package, not a module
    assert "seoib" in table["seoib.cli"]


@pytest.mark.parametrize("module, target", [
    ("seoib.rules.loader", "seoib.query.api"),       # building reads answering
    ("seoib.errors", "seoib.rules.ruleset"),         # a shared leaf reads a phase
    ("seoib.query.solver", "seoib.plan.checker"),    # answering reads a user of it
    ("seoib.query.witness", "seoib.inputs.probe"),
    ("seoib.plan.checker", "seoib.commands.common"),  # a user reads the command line
    ("seoib.sim.qemu", "seoib.rules.specs"),         # the oracle reads the rules
    ("seoib.sim.qemu", "seoib.files"),               # ... or any leaf but errors and YAML
    ("seoib.kvmhost.backend", "seoib.query.api"),
    ("seoib.rules.resolve", "seoib.sim.kvm"),        # the rules do not need the simulator
    ("seoib.newpackage.mod", "seoib.errors"),        # a package no layer claims
])
def test_a_wrong_import_is_found(module: str, target: str) -> None:
    assert violations({module: {target}})


@pytest.mark.parametrize("module, target", [
    ("seoib.query.api", "seoib.rules.ruleset"),
    ("seoib.query.witness", "seoib.sim.config"),
    ("seoib.rules.ruleset", "seoib.errors"),
    ("seoib.sim.scenario", "seoib.yamlio"),
    ("seoib.kvmhost.backend", "seoib.sim.kvm"),
    ("seoib.matrix.fleet", "seoib.plan.planfile"),
    ("seoib.commands.policy", "seoib.query.verdicts"),
    ("seoib.cli", "seoib"),
])
def test_a_right_import_passes(module: str, target: str) -> None:
    assert violations({module: {target}}) == []


def test_a_cycle_between_user_packages_is_found() -> None:
    table = {"seoib.matrix.fleet": {"seoib.plan.planfile"}, "seoib.plan.checker": {"seoib.matrix.build"}}
    assert any("matrix" in v for v in violations(table))


def test_a_planted_import_inside_a_function_is_found(tmp_path: Path) -> None:
    root = tmp_path / "seoib"
    (root / "rules").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "rules" / "__init__.py").write_text("")
    (root / "rules" / "planted.py").write_text(
        "def late():\n    from ..query.api import Engine\n    return Engine\n")
    table = read_imports(root)
    assert table["seoib.rules.planted"] == {"seoib.query.api"}
    assert violations(table)


def test_the_readme_names_every_package() -> None:
    readme = (ENGINE.parent / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    packages = sorted(p.parent.relative_to(ENGINE.parent).as_posix()
                      for p in ENGINE.rglob("__init__.py"))
    missing = [p for p in packages if f"{p}/" not in layout]
    assert missing == []


def test_the_package_api_resolves_lazily_and_completely() -> None:
    code = ("import sys, seoib; before = {m for m in sys.modules if m.startswith('seoib.')}; "
            "names = [getattr(seoib, n).__name__ for n in seoib.__all__]; "
            "assert set(seoib.__all__) <= set(dir(seoib)); print(sorted(before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # `import seoib` alone loads none of its modules


def module_cycles(table: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every circle of imports between modules (a package's ``__init__`` excluded: it
    re-exports what its modules define, which is not a dependency of theirs)."""
    import networkx as nx

    graph = nx.DiGraph()
    for module, targets in table.items():
        graph.add_edges_from((module, t) for t in targets if t != module and t in table
                             and not module.startswith(t + "."))
    return sorted(sorted(c) for c in nx.simple_cycles(graph))


def test_no_module_imports_lead_back_to_it() -> None:
    # a function-level import counts: it still ties the two modules together
    assert module_cycles(read_imports(ENGINE)) == []


def test_a_planted_circle_between_modules_is_found() -> None:
    table = {"seoib.inputs.probe": {"seoib.inputs.behaviour"},
             "seoib.inputs.behaviour": {"seoib.inputs.probe_model", "seoib.inputs.probe"},
             "seoib.inputs.probe_model": set()}
    assert module_cycles(table) == [["seoib.inputs.behaviour", "seoib.inputs.probe"]]
