"""A loaded, checked and compiled rule set, cached on disk by content digest.

Compiling needs jsonschema and networkx and takes tens of milliseconds; a query
process only needs the result. The compiled set is kept as data (see
seoib.rules.rulecache) keyed by the rules' digest, their location and the engine's
code, so an unchanged rule set loads without either library.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import BadInput, Location, RuleError
from ..paths import builtin_rules_dir
from ..record import record
from .assumptions import load_assumptions
from .catalog import MachineCatalog, QemuCatalog, load_designs, load_guests
from .compiler import (
    CompiledQuery,
    compile_query,
    parse_facts,
    parse_queries,
    parse_stages,
    rule_order,
)
from .deferred import Deferred
from .language import Fact, Rule
from .lineage import KernelLineage
from .loader import RawRules, load_rule_dirs, set_digest
from .resolve import Resolver

__all__ = ["RuleSet", "load_rules"]


@record(frozen=False)
class RuleSet:
    """A loaded, checked and compiled rule set: everything a verdict is computed from.

    Built by :func:`load_rules` (through ``compile_rules``, or read back from the
    on-disk cache) and never changed afterwards: callers share one object. By the
    time it exists the compiler has proved every query sound (facts declared,
    values in their domains, no cycles, no two rules deriving different values for
    one configuration), ``severities`` maps every outcome to ``ok``, ``warn`` or
    ``block``, and ``digest`` is the SHA-256 of the rule files' contents (root and
    overlays), which verdicts and artifacts carry.

    >>> rs = load_rules()
    >>> sorted(rs.queries)
    ['migrate', 'policy', 'snapshot']
    >>> rs.severities["storm"]
    'block'
    """

    root: Path
    digest: str
    facts: dict[str, Fact]
    severities: dict[str, str]
    queries: Mapping[str, CompiledQuery]  # a Deferred: decoded per query on first use
    resolver: Resolver
    roots: tuple[Path, ...] = ()  # the base and every overlay merged over it, in order

    @property
    def kernels(self) -> KernelLineage:
        return self.resolver.kernels

    def query(self, name: str) -> CompiledQuery:
        if name not in self.queries:
            raise BadInput(f"the rule set defines no query {name!r}", Location(str(self.root)))
        return self.queries[name]


def _stages(raw: RawRules, facts: dict[str, Fact]) -> dict[str, list[Rule]]:
    """Stage files parsed per directory (each names its own file), then joined."""
    groups: dict[str, dict[str, Any]] = {}
    for stem, doc in raw.stage_files.items():
        groups.setdefault(str(Path(raw.path(stem)).parent), {})[stem] = doc
    stages: dict[str, list[Rule]] = {}
    seen: dict[str, Location] = {}
    problems = []
    for folder, files in groups.items():
        for stage, rules in parse_stages(files, folder, facts).items():
            for rule in rules:
                if rule.id in seen:
                    problems.append((rule.location, f"rule id {rule.id!r} used twice (first at "
                                     f"{seen[rule.id]})"))
                seen.setdefault(rule.id, rule.location)
            stages.setdefault(stage, []).extend(rules)
    if problems:
        raise RuleError.from_problems(problems)
    return stages


def compile_rules(roots: list[Path], digest: str) -> RuleSet:
    raw = load_rule_dirs(roots)
    root = raw.root
    facts = parse_facts(raw.data["facts"], raw.path("facts"))
    # Inputs that design and guest entries must give (per-machine ones come from the resolver).
    data_inputs = {n: f.values for n, f in facts.items() if f.input and not f.per_machine}
    switches = load_assumptions(raw.data.get("assumptions"), raw.path("assumptions"))
    designs = load_designs(raw.data["designs"], raw.path("designs"), data_inputs, switches)
    guests = load_guests(raw.data["guests"], raw.path("guests"), data_inputs, switches)
    machines = MachineCatalog(raw.data["machines"], raw.path("machines"))
    qemu = QemuCatalog(raw.data["qemu"], raw.path("qemu"), machines, designs)
    kernels = KernelLineage(raw.data["kernels"], raw.path("kernels"))
    stages = _stages(raw, facts)
    _check_stream_commands(qemu, facts, stages)
    severities, queries = parse_queries(raw.data["queries"], raw.path("queries"), facts)
    order = rule_order(stages)
    # Deferred: the rules cache stores each compiled query as a part read on first use.
    compiled = Deferred({name: compile_query(q, stages, facts, order) for name, q in queries.items()})
    kernels.freeze()
    return RuleSet(root, digest, facts, severities, compiled,
                   Resolver(kernels, qemu, machines, designs, guests, switches), raw.roots)


def _check_stream_commands(qemu: QemuCatalog, facts: dict[str, Fact],
                           stages: dict[str, list[Rule]]) -> None:
    """Each stream command's fact is declared and read by a migration rule: the
    simulator refuses a command it is told of, so the rules must be able to say so."""
    problems = []
    read = {name.split(".", 1)[1] for rule in stages.get("migrate", []) for name in rule.reads()
            if name.startswith(("src.", "dst."))}
    for cmd in qemu.stream_commands:
        name = f"qemu.stream_{cmd.fact}"
        fact = facts.get(name)
        if fact is None or not fact.per_machine or set(fact.values) != {"yes", "no", "compat"}:
            problems.append((cmd.location, f"{cmd.id}: facts.yaml declares no per-machine input "
                             f"fact {name} with values yes, no, compat"))
        elif name not in read:
            problems.append((cmd.location, f"{cmd.id}: no migrate rule reads {name}"))
    if problems:
        raise RuleError.from_problems(problems)


_memory: dict[tuple[str, str], RuleSet] = {}


RulesArg = str | Path | Sequence[str | Path] | None


def rule_dirs(root: RulesArg = None) -> list[Path]:
    """The directories of a rule set: the built-in base, then ``SEOIB_RULES``, then ``root``.

    A directory holding every data file starts a new base (earlier ones are dropped);
    any other is an overlay (seoib.rules.overlay).
    """
    given = [] if root is None else [root] if isinstance(root, (str, Path)) else list(root)
    site = [p for p in os.environ.get("SEOIB_RULES", "").split(os.pathsep) if p]
    return [builtin_rules_dir(), *(Path(p) for p in site), *(Path(p) for p in given)]


def load_rules(root: RulesArg = None, *, use_cache: bool = True) -> RuleSet:
    """Load the rule set at ``root`` (directories, default: the built-in rules)."""
    roots = rule_dirs(root)
    from .loader import is_complete

    roots = roots[max(i for i, r in enumerate(roots) if i == 0 or is_complete(r)):]
    path = roots[-1]
    digest = set_digest(roots)
    key = (os.pathsep.join(str(r.resolve()) for r in roots), digest)
    if key in _memory:
        return _memory[key]
    from .rulecache import cache_key, cached

    ruleset = cached(cache_key(digest, roots), lambda: compile_rules(roots, digest),
                     check=lambda rs: isinstance(rs, RuleSet) and rs.digest == digest,
                     use_cache=use_cache)
    ruleset.root = path
    ruleset.roots = tuple(roots)
    if isinstance(ruleset.queries, Deferred):  # a part the cache cannot give is compiled afresh
        ruleset.queries.rebuild = lambda: compile_rules(roots, digest).queries
    _memory[key] = ruleset
    return ruleset

