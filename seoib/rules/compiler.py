"""Compile stage rules into per-query evaluation plans (networkx).

A query instantiates side-template stages once per side (``policy`` becomes
``src.policy``) and adds its pair stages. The compiler then builds the fact/rule
dependency graph and proves, before anything runs:

- every fact a rule reads or writes is declared, with values in its domain;
- nothing reads a fact that neither the input nor a rule provides;
- no dependency cycle;
- two rules that derive different values for the same fact can never both
  apply (some fact they both test has disjoint allowed values).

Each problem names the rules involved with file:line. The plan is a flat list
of steps in topological order, so evaluation needs no graph at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import TYPE_CHECKING, Any

from ..errors import Location, RuleError
from ..record import record
from .language import Assign, Condition, Fact, OutcomeRule, Query, Rule, Side

if TYPE_CHECKING:  # yaml stays unimported on the cached query path
    from ..yamlio import LineDict

__all__ = ["CompiledQuery", "EvalStep", "compile_query", "parse_facts", "parse_queries", "parse_stages"]

Problem = tuple[Location | None, str]


@record
class EvalStep:
    """One evaluation step: run ``rule``, or give ``fact`` its default if still unset."""

    rule: Rule | None = None
    fact: str | None = None
    default: Any = None


@record
class CompiledQuery:
    """A query ready to run: its steps in dependency order, inputs and rules.

    Built by ``compile_query`` while a rule set loads, after every soundness check
    passed; frozen and stored in the rules cache. ``steps`` are topologically sorted,
    so ``solver.evaluate`` runs them in one pass with no graph; ``inputs`` are the
    instantiated input fact names, sorted (role-prefixed for each side).
    """

    query: Query
    steps: tuple[EvalStep, ...]
    inputs: tuple[str, ...]  # instantiated input fact names, sorted: the class key order
    rules: tuple[Rule, ...]


def _loc(doc: Any, source: str, key: Any = None) -> Location:
    from ..yamlio import LineDict, LineList  # compile time only

    line = doc.line_of(key) if key is not None and isinstance(doc, LineDict | LineList) else None
    return Location(source, line if line is not None else getattr(doc, "line", None))


def parse_facts(doc: LineDict, source: str) -> dict[str, Fact]:
    facts: dict[str, Fact] = {}
    problems: list[Problem] = []
    for i, entry in enumerate(doc["facts"]):
        loc = _loc(doc["facts"], source, i)
        name = entry["name"]
        if name in facts:
            problems.append((loc, f"fact {name!r} declared twice (first at {facts[name].location})"))
            continue
        values = tuple(entry["values"])
        if any(isinstance(v, bool) for v in values) and any(
                isinstance(v, int) and not isinstance(v, bool) for v in values):
            problems.append((loc, f"fact {name!r} mixes true/false with numbers"))
        default = entry.get("default")
        if default is not None and default not in values:
            problems.append((loc, f"fact {name!r}: default {default!r} is not one of {list(values)}"))
        facts[name] = Fact(name, entry["scope"], values, entry["description"],
                           bool(entry.get("input", False)), default, loc,
                           bool(entry.get("per_machine", False)))
    if problems:
        raise RuleError.from_problems(problems)
    return facts


def _conditions(when: Mapping[str, Any], facts: Mapping[str, Fact], loc: Location, owner: str,
                problems: list[Problem]) -> tuple[Condition, ...]:
    """A `when` mapping as conditions; unknown facts and impossible values go to ``problems``.

    A value may be one value, a list (any of), or ``{not: ...}`` (anything else).
    """
    out: list[Condition] = []
    for name, spec in when.items():
        _, fact = _split(name, facts)
        if fact is None:
            problems.append((loc, f"{owner}: unknown fact {name!r} in when"))
            continue
        negate = isinstance(spec, dict) and "not" in spec
        raw = spec["not"] if negate else spec
        values = list(raw) if isinstance(raw, list) else [raw]
        bad = [v for v in values if v not in fact.values]
        if bad:
            problems.append((loc, f"{owner}: {name} cannot be {bad[0]!r} "
                                  f"(its values are {list(fact.values)})"))
            continue
        allowed = frozenset(fact.values) - frozenset(values) if negate else frozenset(values)
        out.append(Condition(name, allowed))
    return tuple(out)


def parse_stages(
    files: Mapping[str, LineDict], root: str, facts: Mapping[str, Fact]
) -> dict[str, list[Rule]]:
    """Parse every stage file into template rules; fact names are checked per query."""
    stages: dict[str, list[Rule]] = {}
    seen: dict[str, Location] = {}
    problems: list[Problem] = []
    for stem, doc in sorted(files.items()):
        source = f"{root}/{stem}.yaml"
        groups = [(doc["stage"], doc["rules"])] if "stage" in doc else list(doc["stages"].items())
        for stage, entries in groups:
            for i, entry in enumerate(entries):
                loc = _loc(entries, source, i)
                rule_id = entry["id"]
                if rule_id in seen:
                    problems.append((loc, f"rule id {rule_id!r} used twice (first at {seen[rule_id]})"))
                    continue
                seen[rule_id] = loc
                rule, found = _parse_rule(entry, stage, loc, facts)
                problems.extend(found)
                if rule is not None:
                    stages.setdefault(stage, []).append(rule)
    if problems:
        raise RuleError.from_problems(problems)
    return stages


def _split(name: str, facts: Mapping[str, Fact]) -> tuple[str | None, Fact | None]:
    """``src.kernel.x`` -> ("src", fact kernel.x); ``vm.x`` -> (None, fact vm.x)."""
    if name in facts:
        return None, facts[name]
    prefix, _, rest = name.partition(".")
    fact = facts.get(rest)
    if fact is not None and fact.scope in ("host", "state"):
        return prefix, fact
    return None, None


def _parse_rule(
    entry: LineDict, stage: str, loc: Location, facts: Mapping[str, Fact]
) -> tuple[Rule | None, list[Problem]]:
    problems: list[Problem] = []
    rule_id = entry["id"]
    when = _conditions(entry["when"], facts, loc, f"rule {rule_id}", problems)
    then: list[Assign] = []
    for name, spec in entry["then"].items():
        _, fact = _split(name, facts)
        if fact is None:
            problems.append((loc, f"rule {rule_id}: unknown fact {name!r} in then"))
            continue
        if fact.input:
            problems.append((loc, f"rule {rule_id}: {name} is an input fact; rules cannot derive it"))
            continue
        if isinstance(spec, dict):
            _, source_fact = _split(spec["copy"], facts)
            if source_fact is None:
                problems.append((loc, f"rule {rule_id}: unknown fact {spec['copy']!r} in copy"))
                continue
            extra = set(source_fact.values) - set(fact.values)
            if extra:
                problems.append((loc, f"rule {rule_id}: copying {spec['copy']} into {name} can give "
                                      f"{sorted(map(str, extra))}, outside {name}'s values"))
                continue
            then.append(Assign(name, copy=spec["copy"]))
        elif spec not in fact.values:
            problems.append((loc, f"rule {rule_id}: {name} cannot be {spec!r} "
                                  f"(its values are {list(fact.values)})"))
        else:
            then.append(Assign(name, value=spec))
    if problems:
        return None, problems
    return Rule(rule_id, stage, entry["description"], entry["source"], when, tuple(then),
                loc, bool(entry.get("confirmed", True))), []


def parse_queries(doc: LineDict, source: str, facts: Mapping[str, Fact]) -> tuple[
        dict[str, str], dict[str, Query]]:
    severities = dict(doc["severities"])
    queries: dict[str, Query] = {}
    problems: list[Problem] = []
    for name, q in doc["queries"].items():
        loc = _loc(doc["queries"], source, name)
        sides = tuple(Side(s, spec["host"], tuple(spec["stages"])) for s, spec in q["sides"].items())
        outcomes = []
        for i, o in enumerate(q["outcomes"]):
            oloc = _loc(q["outcomes"], source, i)
            conds = _conditions(o["when"], facts, oloc, f"query {name}", problems)
            outcomes.append(OutcomeRule(o["outcome"], conds, oloc))
        for outcome in [o.outcome for o in outcomes] + [q["otherwise"]]:
            if outcome not in severities:
                problems.append((loc, f"query {name}: outcome {outcome!r} has no severity"))
        queries[name] = Query(name, q["description"], sides, tuple(q["stages"]), tuple(outcomes),
                              q["otherwise"], loc)
    if problems:
        raise RuleError.from_problems(problems)
    return severities, queries


def _instantiate(rule: Rule, side: Side, facts: Mapping[str, Fact]) -> Rule:
    def name(n: str) -> str:
        fact = facts.get(n)
        if fact is None:
            return n  # already prefixed: reported by the name check
        if fact.scope == "host":
            return f"{side.host}.{n}"
        if fact.scope == "state":
            return f"{side.name}.{n}"
        return n

    when = tuple(Condition(name(c.fact), c.allowed) for c in rule.when)
    then = tuple(Assign(name(a.fact), a.value, name(a.copy) if a.copy else None) for a in rule.then)
    return Rule(rule.id, rule.stage, rule.description, rule.source, when, then, rule.location,
                rule.confirmed, side.name)


def _exclusive(a: Rule, b: Rule) -> bool:
    ca = {c.fact: c.allowed for c in a.when}
    return any(c.fact in ca and not (ca[c.fact] & c.allowed) for c in b.when)


def _missing_stage(query: Query, stage: str, stages: Mapping[str, list[Rule]]) -> Problem:
    """Blame the stage file when its ``stage:`` looks like a misspelling of the one wanted."""
    import difflib

    used = {s for side in query.sides for s in side.stages} | set(query.stages)
    unused = [s for s in stages if s not in used]
    close = difflib.get_close_matches(stage, unused, n=1, cutoff=0.6)
    if close and stages[close[0]]:
        where = stages[close[0]][0].location
        return (Location(where.source, where.line), f"unknown stage {close[0]!r}: no query "
                f"uses it (query {query.name} expects {stage!r})")
    return (query.location, f"query {query.name}: no rules for stage {stage!r}")


def _query_rules(query: Query, stages: Mapping[str, list[Rule]], facts: Mapping[str, Fact],
                 problems: list[Problem]) -> list[Rule]:
    rules: list[Rule] = []
    for side in query.sides:
        for stage in side.stages:
            if stage not in stages:
                problems.append(_missing_stage(query, stage, stages))
                continue
            for rule in stages[stage]:
                for n in rule.reads() | {a.fact for a in rule.then}:
                    if n not in facts:
                        problems.append((rule.location, f"rule {rule.id}: stage {stage!r} is applied "
                                         f"per side, so it cannot name {n!r} with a prefix"))
                rules.append(_instantiate(rule, side, facts))
    for stage in query.stages:
        if stage not in stages:
            problems.append(_missing_stage(query, stage, stages))
            continue
        rules.extend(stages[stage])
    return rules


def _known_names(query: Query, facts: Mapping[str, Fact]) -> dict[str, Fact]:
    known: dict[str, Fact] = {}
    for f in facts.values():
        if f.scope == "host":
            for h in query.hosts:
                known[f"{h}.{f.name}"] = f
        elif f.scope == "state":
            for s in query.sides:
                known[f"{s.name}.{f.name}"] = f
        else:
            known[f.name] = f
    return known


def compile_query(query: Query, stages: Mapping[str, list[Rule]], facts: Mapping[str, Fact],
                  order: Mapping[str, int]) -> CompiledQuery:
    """Build the dependency graph of ``query`` and check it; see the module docstring."""
    import networkx as nx  # lazy: compiling happens only when the rule cache is stale

    problems: list[Problem] = []
    rules = _query_rules(query, stages, facts, problems)
    if problems:  # a missing stage: what follows would only be its echoes
        raise RuleError.from_problems(problems)
    known = _known_names(query, facts)
    graph = nx.DiGraph()
    writers: dict[str, list[tuple[Rule, Assign]]] = {}
    for rule in rules:
        node = ("rule", rule.label)
        graph.add_node(node, rule=rule)
        for n in rule.reads():
            if n not in known:
                problems.append((rule.location, f"rule {rule.id}: {n!r} is not a fact of query "
                                 f"{query.name} (sides {[s.name for s in query.sides]})"))
            graph.add_edge(("fact", n), node)
        for a in rule.then:
            if a.fact not in known:
                problems.append((rule.location, f"rule {rule.id}: {a.fact!r} is not a fact of "
                                 f"query {query.name}"))
            graph.add_edge(node, ("fact", a.fact))
            writers.setdefault(a.fact, []).append((rule, a))
    for o in query.outcomes:
        for c in o.when:
            if c.fact not in known:
                problems.append((o.location, f"query {query.name}: {c.fact!r} is not a fact here"))
            graph.add_node(("fact", c.fact))
    for kind, n in list(graph.nodes):
        if kind != "fact" or n not in known:
            continue
        fact = known[n]
        if not fact.input and n not in writers and fact.default is None:
            readers = [d[1] for d in graph.successors(("fact", n))]
            who = f"rule {readers[0]}" if readers else f"query {query.name}"
            problems.append((query.location, f"{who} reads {n}, but no rule of query "
                             f"{query.name} derives it and it has no default"))
    if problems:
        raise RuleError.from_problems(problems)

    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        names = [graph.nodes[u]["rule"] for u, _ in cycle if u[0] == "rule"]
        raise RuleError.from_problems(
            [(names[0].location, "rule dependency cycle: " + " -> ".join(
                f"{r.label} ({r.location})" for r in names))])

    conflicts: list[Problem] = []
    seen_pairs: set[tuple[str, str]] = set()
    for fact_name, ws in writers.items():
        for (r1, a1), (r2, a2) in combinations(ws, 2):
            if a1.same_as(a2) or _exclusive(r1, r2):
                continue
            key = tuple(sorted((r1.id, r2.id)))
            if key in seen_pairs:
                continue
            seen_pairs.add(key)  # type: ignore[arg-type]
            conflicts.append((r1.location, f"rules {r1.id} ({r1.location}) and {r2.id} "
                              f"({r2.location}) can both apply and derive different values for "
                              f"{fact_name}; make their conditions exclusive"))
    if conflicts:
        raise RuleError.from_problems(conflicts)

    def sort_key(node: tuple[str, str]) -> tuple[int, str]:
        data = graph.nodes[node]
        rule = data.get("rule")
        return (order.get(rule.id, 0) if rule else -1, node[1])

    steps: list[EvalStep] = []
    for node in nx.lexicographical_topological_sort(graph, key=sort_key):
        kind, n = node
        if kind == "rule":
            steps.append(EvalStep(rule=graph.nodes[node]["rule"]))
        elif n in known and not known[n].input and known[n].default is not None:
            steps.append(EvalStep(fact=n, default=known[n].default))
    inputs = tuple(sorted(n for n, f in known.items() if f.input))
    return CompiledQuery(query, tuple(steps), inputs, tuple(rules))


def rule_order(stages: Mapping[str, Iterable[Rule]]) -> dict[str, int]:
    """A stable tie-break for evaluation order: file order of the rules."""
    order: dict[str, int] = {}
    for rules in stages.values():
        for rule in rules:
            order.setdefault(rule.id, len(order))
    return order
