"""A loaded, checked and compiled rule set, cached on disk by content digest.

Compiling needs jsonschema and networkx and takes tens of milliseconds; a query
process only needs the result. The compiled set is kept as data (see
engine.rulecache) keyed by the rules' digest, their location and the engine's
code, so an unchanged rule set loads without either library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .catalog import MachineCatalog, QemuCatalog, load_designs, load_guests
from .compiler import (
    CompiledQuery,
    compile_query,
    parse_facts,
    parse_queries,
    parse_stages,
    rule_order,
)
from .errors import BadInput, Location
from .lineage import KernelLineage
from .loader import load_rule_dir, rules_digest
from .model import Fact
from .paths import builtin_rules_dir
from .resolve import Resolver

__all__ = ["RuleSet", "load_rules"]


@dataclass
class RuleSet:
    root: Path
    digest: str
    facts: dict[str, Fact]
    severities: dict[str, str]
    queries: dict[str, CompiledQuery]
    resolver: Resolver

    @property
    def kernels(self) -> KernelLineage:
        return self.resolver.kernels

    def query(self, name: str) -> CompiledQuery:
        if name not in self.queries:
            raise BadInput(f"the rule set defines no query {name!r}", Location(str(self.root)))
        return self.queries[name]


def compile_rules(root: Path, digest: str) -> RuleSet:
    raw = load_rule_dir(root)
    r = str(root)
    facts = parse_facts(raw.data["facts"], raw.path("facts"))
    # Inputs that design and guest entries must give (per-machine ones come from the resolver).
    data_inputs = {n: f.values for n, f in facts.items() if f.input and not f.per_machine}
    designs = load_designs(raw.data["designs"], raw.path("designs"), data_inputs)
    guests = load_guests(raw.data["guests"], raw.path("guests"), data_inputs)
    machines = MachineCatalog(raw.data["machines"], raw.path("machines"))
    qemu = QemuCatalog(raw.data["qemu"], raw.path("qemu"), machines, designs)
    kernels = KernelLineage(raw.data["kernels"], raw.path("kernels"))
    stages = parse_stages(raw.stage_files, r, facts)
    severities, queries = parse_queries(raw.data["queries"], raw.path("queries"), facts)
    order = rule_order(stages)
    compiled = {name: compile_query(q, stages, facts, order) for name, q in queries.items()}
    kernels.freeze()
    return RuleSet(root, digest, facts, severities, compiled,
                   Resolver(kernels, qemu, machines, designs, guests))


_memory: dict[tuple[str, str], RuleSet] = {}


def load_rules(root: str | Path | None = None, *, use_cache: bool = True) -> RuleSet:
    """Load the rule set at ``root`` (default: the built-in rules)."""
    path = Path(root) if root is not None else builtin_rules_dir()
    digest = rules_digest(path)
    key = (str(path.resolve()), digest)
    if key in _memory:
        return _memory[key]
    from .rulecache import cache_key, cached

    ruleset = cached(cache_key(digest, [path]), lambda: compile_rules(path, digest),
                     check=lambda rs: isinstance(rs, RuleSet) and rs.digest == digest,
                     use_cache=use_cache)
    ruleset.root = path
    _memory[key] = ruleset
    return ruleset

