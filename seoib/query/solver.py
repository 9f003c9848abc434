"""Evaluate a compiled query over input facts; explain the outcome by its rules.

The plan is already in topological order, so one pass suffices. Every derived
value remembers the rule that set it; the reasons for an outcome are the rules
behind the facts the decisive outcome tests, followed back through what those
rules read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ..errors import Disagreement, RuleError
from ..record import record
from ..rules.compiler import CompiledQuery
from ..rules.language import Rule

__all__ = ["Evaluation", "evaluate", "outcome_with"]


@record
class Evaluation:
    """The facts a query derived, its outcome and findings, and the rules behind them.

    Built by :func:`evaluate` only. ``facts`` holds the inputs and every derived
    fact; ``findings`` are the outcomes whose conditions hold, in the query's order,
    and ``outcome`` is the first of them (the query's ``otherwise`` when none holds).
    ``reasons`` (empty with ``explain=False``) are the rules behind the facts the
    decisive outcome tests; ``input_reasons`` the input facts those rest on.
    """

    facts: Mapping[str, Any]
    outcome: str
    findings: tuple[str, ...]
    reasons: tuple[Rule, ...]
    input_reasons: tuple[str, ...]  # input facts the reasons rest on


def _plan(compiled: CompiledQuery) -> tuple[tuple, tuple, frozenset[str]]:
    """The query's steps and outcomes as plain tuples, and its inputs as a set, built once
    per compiled query.

    Kept beside the record fields (so never in the rules cache, equality or repr):
    the hot loop below then reads tuples instead of attributes.
    """
    plan = compiled.__dict__.get("_plan")
    if plan is None:
        steps = tuple(
            (None, step.fact, step.default) if step.rule is None else
            (step.rule, tuple((c.fact, c.allowed) for c in step.rule.when),
             tuple((a.fact, a.value, a.copy) for a in step.rule.then))
            for step in compiled.steps)
        outcomes = tuple((o, tuple((c.fact, c.allowed) for c in o.when))
                         for o in compiled.query.outcomes)
        plan = (steps, outcomes, frozenset(compiled.inputs))
        object.__setattr__(compiled, "_plan", plan)
    return plan  # type: ignore[no-any-return]


def evaluate(compiled: CompiledQuery, inputs: Mapping[str, Any],
             forced: Mapping[str, Any] | None = None, *, explain: bool = True) -> Evaluation:
    """Run ``compiled`` on ``inputs``; ``forced`` pins derived facts (rules writing them skip).

    With ``explain=False`` the reasons are left empty: for callers that need only the
    outcome (a verdict's alternatives), the walk back through the rules is most of the cost.
    """
    facts: dict[str, Any] = dict(inputs)
    steps, outcomes, needed = _plan(compiled)
    if not facts.keys() >= needed:  # one set test; the names only for the message
        missing = [n for n in compiled.inputs if n not in facts]
        raise Disagreement(f"query {compiled.query.name}: inputs {missing} were not resolved")
    if forced:
        facts.update(forced)
    else:
        forced = {}
    by: dict[str, Rule] = {}
    # Forced facts are rare (what-if callers): they take the plain walk.
    matched = _derive(steps, outcomes, facts, forced, by) if forced else _derived(compiled)(facts, by)
    findings = tuple(dict.fromkeys(o.outcome for o in matched))
    query = compiled.query
    outcome = findings[0] if findings else query.otherwise
    if not explain:
        return Evaluation(facts, outcome, findings, (), ())
    tested = matched[0].when if matched else tuple(c for o in query.outcomes for c in o.when)
    reasons, inputs_used = _explain([c.fact for c in tested], by, compiled)
    return Evaluation(facts, outcome, findings, reasons, inputs_used)


def outcome_with(compiled: CompiledQuery, inputs: Mapping[str, Any], changes: Mapping[str, Any]) -> str:
    """``evaluate(compiled, {**inputs, **changes}, explain=False).outcome``, without building
    the evaluation: what a verdict's alternatives need of each what-if."""
    facts: dict[str, Any] = dict(inputs)
    facts.update(changes)
    if not facts.keys() >= _plan(compiled)[2]:
        return evaluate(compiled, facts, explain=False).outcome  # raises, naming the inputs
    matched = _derived(compiled)(facts, {})
    return matched[0].outcome if matched else compiled.query.otherwise


def _derive(steps: tuple, outcomes: tuple, facts: dict[str, Any], forced: Mapping[str, Any],
            by: dict[str, Rule]) -> list[Any]:
    """The plain derivation: run ``steps`` over ``facts`` (in place), then test the outcomes.

    The reference semantics; :func:`_derived` compiles the same walk per query, and
    evaluations with ``forced`` facts run here."""
    get = facts.get
    # Domains never mix booleans with numbers (the compiler checks), so plain membership
    # is exact.
    for rule, when, then in steps:
        if rule is None:
            if get(when) is None:  # a default step: (None, fact, default)
                facts[when] = then
            continue
        for fact, allowed in when:
            v = get(fact)
            if v is None or v not in allowed:
                break
        else:
            for fact, value, copy in then:
                if fact in forced:
                    continue
                if copy:
                    value = get(copy)
                    if value is None:
                        continue
                elif value is None:
                    continue
                old = get(fact)
                if old is not None and old != value:
                    raise _conflict(by, fact, rule, old, value)
                facts[fact] = value
                by[fact] = rule
    matched = []
    for o, when in outcomes:
        for fact, allowed in when:
            v = get(fact)
            if v is None or v not in allowed:
                break
        else:
            matched.append(o)
    return matched


def _conflict(by: Mapping[str, Rule], fact: str, rule: Rule, old: Any, value: Any) -> RuleError:
    return RuleError(f"rules {by[fact].id} and {rule.id} derived {fact} = "
                     f"{old!r} and {value!r} for the same configuration", rule.location)


Derive = Callable[[dict[str, Any], dict[str, Rule]], list[Any]]


_COMPILE_AFTER = 8  # plain walks of a query before it is compiled
_NO_FORCED: Mapping[str, Any] = MappingProxyType({})


def _derived(compiled: CompiledQuery) -> Derive:
    """:func:`_derive` without forced facts, compiled to one Python function per query.

    The solver's hot path: the plain walk spends most of its time unpacking step
    tuples and looping over conditions; straight-line code tests each condition
    with one lookup. Built from the compiled plan alone (the rule data), once per
    compiled query and kept beside its record fields like :func:`_plan`. Fact
    names and values are never pasted into the source: they are bound as names
    (``k<i>``, ``a<i>``, ...), so any rule data compiles to the same shape of code; each
    fact is read from the dict once, into a local. The first few evaluations of a query
    take the plain walk: compiling costs more than a one-shot command evaluates.
    """
    run = compiled.__dict__.get("_derived")
    if run is None:
        steps, outcomes, _ = _plan(compiled)
        walks = compiled.__dict__.get("_walks", 0) + 1
        if walks <= _COMPILE_AFTER:
            compiled.__dict__["_walks"] = walks
            return lambda facts, by: _derive(steps, outcomes, facts, _NO_FORCED, by)
        run = _compile_derive(steps, outcomes)
        object.__setattr__(compiled, "_derived", run)
    return run  # type: ignore[no-any-return]


def _compile_derive(steps: tuple, outcomes: tuple) -> Derive:
    env: dict[str, Any] = {"_conflict": _conflict}
    names: dict[int, str] = {}
    slots: dict[str, str] = {}

    def bind(prefix: str, value: Any) -> str:
        # One name per distinct object (by identity, so 1 and True never share a name).
        name = names.get(id(value))
        if name is None:
            name = names[id(value)] = f"{prefix}{len(names)}"
            env[name] = value
        return name

    def slot(fact: str) -> str:
        # Each fact lives in a local f<i> beside the dict (read once, kept in step on every
        # write); its name is bound as k<i>.
        local = slots.get(fact)
        if local is None:
            local = slots[fact] = f"f{len(slots)}"
            env[f"k{local[1:]}"] = fact
        return local

    def test(when: tuple) -> str:
        parts = []
        for fact, allowed in when:
            f, a = slot(fact), bind("a", allowed)
            # "v is None or v not in allowed" fails a condition: where None is not allowed,
            # membership alone says the same.
            parts.append(f"({f} is not None and {f} in {a})" if None in allowed else f"{f} in {a}")
        return " and ".join(parts) or "True"

    body = []
    for rule, when, then in steps:
        if rule is None:
            f = slot(when)
            body += [f" if {f} is None:", f"  facts[k{f[1:]}] = {f} = {bind('d', then)}"]
            continue
        r = bind("r", rule)
        writes = []
        for fact, value, copy in then:
            f = slot(fact)
            if copy:
                val = slot(copy)
                writes.append(f"  if {val} is not None:")
                pad = "   "
            elif value is None:
                continue
            else:
                val, pad = bind("c", value), "  "
            writes += [f"{pad}if {f} is not None and {f} != {val}:",
                       f"{pad} raise _conflict(by, k{f[1:]}, {r}, {f}, {val})",
                       f"{pad}facts[k{f[1:]}] = {f} = {val}",
                       f"{pad}by[k{f[1:]}] = {r}"]
        body += [f" if {test(when)}:", *(writes or ["  pass"])]
    body.append(" matched = []")
    for o, when in outcomes:
        body += [f" if {test(when)}:", f"  matched.append({bind('o', o)})"]
    body.append(" return matched")
    lines = ["def derive(facts, by):", " get = facts.get",
             *(f" {f} = get(k{f[1:]})" for f in slots.values()), *body]
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines) + "\n", "<seoib derive>", "exec"), env, namespace)
    return namespace["derive"]  # type: ignore[no-any-return]


def _explain_plan(compiled: CompiledQuery) -> tuple[dict[int, tuple[str, tuple[str, ...]]],
                                                   dict[str, tuple[int, ...]], frozenset[str]]:
    """(each planned rule's label and the facts it reads, by the rule's id(); where each label
    sits in ``compiled.rules``; the query's inputs), built once per compiled query."""
    plan = compiled.__dict__.get("_explain")
    if plan is None:
        rules = {id(s.rule): (s.rule.label, tuple(s.rule.reads())) for s in compiled.steps if s.rule}
        positions: dict[str, tuple[int, ...]] = {}
        for i, r in enumerate(compiled.rules):
            positions[r.label] = (*positions.get(r.label, ()), i)
        plan = (rules, positions, frozenset(compiled.inputs))
        object.__setattr__(compiled, "_explain", plan)
    return plan  # type: ignore[no-any-return]


def _explain(start: list[str], by: Mapping[str, Rule],
             compiled: CompiledQuery) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    planned, positions, query_inputs = _explain_plan(compiled)
    seen_rules: set[str] = set()
    inputs: set[str] = set()
    stack = list(start)
    seen_facts: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen_facts:
            continue
        seen_facts.add(name)
        rule = by.get(name)
        if rule is None:
            if name in query_inputs:
                inputs.add(name)
            continue
        label, reads = planned.get(id(rule)) or (rule.label, tuple(rule.reads()))
        if label not in seen_rules:
            seen_rules.add(label)
            stack.extend(reads)
    # The query's rules behind the outcome, in the query's own order.
    rules = compiled.rules
    ordered = tuple(rules[i] for i in sorted(i for label in seen_rules for i in positions.get(label, ())))
    return ordered, tuple(sorted(inputs))

