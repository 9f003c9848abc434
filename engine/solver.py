"""Evaluate a compiled query over input facts; explain the outcome by its rules.

The plan is already in topological order, so one pass suffices. Every derived
value remembers the rule that set it; the reasons for an outcome are the rules
behind the facts the decisive outcome tests, followed back through what those
rules read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .compiler import CompiledQuery
from .errors import Disagreement, RuleError
from .model import Condition, Rule

__all__ = ["Evaluation", "evaluate"]


@dataclass(frozen=True)
class Evaluation:
    facts: Mapping[str, Any]
    outcome: str
    findings: tuple[str, ...]
    reasons: tuple[Rule, ...]
    input_reasons: tuple[str, ...]  # input facts the reasons rest on


def _holds(conds: tuple[Condition, ...], facts: Mapping[str, Any]) -> bool:
    # Domains never mix booleans with numbers (the compiler checks), so plain
    # membership is exact.
    for c in conds:
        v = facts.get(c.fact)
        if v is None or v not in c.allowed:
            return False
    return True


def evaluate(compiled: CompiledQuery, inputs: Mapping[str, Any],
             forced: Mapping[str, Any] | None = None, *, explain: bool = True) -> Evaluation:
    """Run ``compiled`` on ``inputs``; ``forced`` pins derived facts (rules writing them skip).

    With ``explain=False`` the reasons are left empty: for callers that need only the
    outcome (a verdict's alternatives), the walk back through the rules is most of the cost.
    """
    facts: dict[str, Any] = dict(inputs)
    missing = [n for n in compiled.inputs if n not in facts]
    if missing:
        raise Disagreement(f"query {compiled.query.name}: inputs {missing} were not resolved")
    forced = forced or {}
    facts.update(forced)
    by: dict[str, Rule] = {}
    get = facts.get
    for step in compiled.steps:
        rule = step.rule
        if rule is None:
            if get(step.fact) is None:  # type: ignore[arg-type]
                facts[step.fact] = step.default  # type: ignore[index]
            continue
        # Inlined condition check: this loop is the solver's hot path.
        for c in rule.when:
            v = get(c.fact)
            if v is None or v not in c.allowed:
                break
        else:
            for a in rule.then:
                if a.fact in forced:
                    continue
                value = get(a.copy) if a.copy else a.value
                if value is None:
                    continue
                old = get(a.fact)
                if old is not None and old != value:
                    raise RuleError(f"rules {by[a.fact].id} and {rule.id} derived {a.fact} = "
                                    f"{old!r} and {value!r} for the same configuration",
                                    rule.location)
                facts[a.fact] = value
                by[a.fact] = rule
    query = compiled.query
    matched = [o for o in query.outcomes if _holds(o.when, facts)]
    findings = tuple(dict.fromkeys(o.outcome for o in matched))
    outcome = findings[0] if findings else query.otherwise
    if not explain:
        return Evaluation(facts, outcome, findings, (), ())
    tested = matched[0].when if matched else tuple(c for o in query.outcomes for c in o.when)
    reasons, inputs_used = _explain([c.fact for c in tested], by, compiled)
    return Evaluation(facts, outcome, findings, reasons, inputs_used)


def _explain(start: list[str], by: Mapping[str, Rule],
             compiled: CompiledQuery) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    seen_rules: set[str] = set()
    seen_ids: set[str] = set()
    inputs: list[str] = []
    stack = list(start)
    seen_facts: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen_facts:
            continue
        seen_facts.add(name)
        rule = by.get(name)
        if rule is None:
            if name in compiled.inputs:
                inputs.append(name)
            continue
        label = rule.label
        if label not in seen_rules:
            seen_rules.add(label)
            seen_ids.add(rule.id)
            stack.extend(rule.reads())
    # A rule's id is a cheap first test: its label ("id[side]") is built only for candidates.
    ordered = tuple(r for r in compiled.rules if r.id in seen_ids and r.label in seen_rules)
    return ordered, tuple(sorted(set(inputs)))

