"""The compiled derivation (solver._derived) answers exactly as the plain walk (solver._derive).

Both are run on the same facts: the built-in queries over random inputs drawn from the
values their conditions test (plus unset and unknown values, and derived facts given
as inputs so that rules conflict), and random plans of made-up rules. Equal means the
same facts in the same order, the same rule behind each derived fact, the same matched
outcomes, or the same error with the same location.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.errors import Location, RuleError
from seoib.query.solver import _compile_derive, _derive, _plan, evaluate, outcome_with
from seoib.rules.ruleset import RuleSet, load_rules


@lru_cache(maxsize=1)
def _rules() -> RuleSet:
    return load_rules(use_cache=False)


def _run(derive: Any, facts: dict[str, Any]) -> tuple[Any, ...]:
    facts, by = dict(facts), {}
    try:
        matched = derive(facts, by)
    except RuleError as exc:
        return ("error", str(exc), exc.location)
    except KeyError as exc:  # a conflict with a fact given as input names no earlier rule
        return ("key error", str(exc))
    return (list(facts.items()), {k: id(r) for k, r in by.items()}, [id(o) for o in matched])


def _both(steps: tuple, outcomes: tuple, compiled: Any, facts: dict[str, Any]) -> None:
    plain = _run(lambda f, by: _derive(steps, outcomes, f, {}, by), facts)
    assert _run(compiled, facts) == plain


def _domains(steps: tuple, outcomes: tuple) -> dict[str, list[Any]]:
    """Every fact a plan reads or writes, with the values its conditions and rules name."""
    values: dict[str, set[Any]] = {}
    for rule, when, then in steps:
        if rule is None:
            values.setdefault(when, set()).add(then)
            continue
        for fact, allowed in when:
            values.setdefault(fact, set()).update(allowed)
        for fact, value, _ in then:
            values.setdefault(fact, set()).add(value)
    for _, when in outcomes:
        for fact, allowed in when:
            values.setdefault(fact, set()).update(allowed)
    return {f: [*sorted((v for v in vs if v is not None), key=repr), "unknown-value"]
            for f, vs in values.items()}


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_builtin_queries_compiled_equal_plain(data: st.DataObject) -> None:
    rules = _rules()
    name = data.draw(st.sampled_from(sorted(rules.queries)))
    compiled = rules.query(name)
    steps, outcomes, _ = _plan(compiled)
    domains = _domains(steps, outcomes)
    facts = {f: data.draw(st.sampled_from(domains.get(f, ["unknown-value"])), label=f)
             for f in compiled.inputs}
    # Sometimes a derived fact arrives already set: rules then agree with it or conflict.
    extra = data.draw(st.lists(st.sampled_from(sorted(domains)), max_size=3, unique=True))
    for f in extra:
        facts[f] = data.draw(st.sampled_from(domains[f]), label=f)
    _both(steps, outcomes, _compile_derive(steps, outcomes), facts)


class _Rule:
    def __init__(self, i: int) -> None:
        self.id = f"rule-{i}"
        self.location = Location("made-up.yaml", i + 1)


class _Outcome:
    def __init__(self, i: int) -> None:
        self.outcome = f"outcome-{i}"


FACTS = ["a", "b", "c", "d"]
VALUES = [None, 0, 1, True, False, "x", "y"]
conditions = st.lists(st.tuples(st.sampled_from(FACTS),
                                st.frozensets(st.sampled_from(VALUES), max_size=3)), max_size=3)
assigns = st.lists(st.tuples(st.sampled_from(FACTS), st.sampled_from(VALUES),
                             st.sampled_from([None, "", *FACTS])), max_size=3)
steps_st = st.lists(st.one_of(
    st.tuples(st.none(), st.sampled_from(FACTS), st.sampled_from(VALUES)),
    st.tuples(st.just("rule"), conditions, assigns)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(raw_steps=steps_st, raw_outcomes=st.lists(conditions, max_size=4),
       facts=st.dictionaries(st.sampled_from(FACTS), st.sampled_from(VALUES), max_size=4))
def test_made_up_plans_compiled_equal_plain(raw_steps: list[tuple], raw_outcomes: list[list],
                                            facts: dict[str, Any]) -> None:
    steps = tuple((None, fact, default) if kind is None else
                  (_Rule(i), tuple(fact), tuple(default))
                  for i, (kind, fact, default) in enumerate(raw_steps))
    outcomes = tuple((_Outcome(i), tuple(when)) for i, when in enumerate(raw_outcomes))
    _both(steps, outcomes, _compile_derive(steps, outcomes), facts)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_outcome_with_equals_the_evaluation(data: st.DataObject) -> None:
    """A verdict's what-ifs (outcome_with) answer what a whole evaluation answers."""
    rules = _rules()
    name = data.draw(st.sampled_from(sorted(rules.queries)))
    compiled = rules.query(name)
    domains = _domains(*_plan(compiled)[:2])
    inputs = {f: data.draw(st.sampled_from(domains.get(f, ["unknown-value"])), label=f)
              for f in compiled.inputs}
    changed = data.draw(st.lists(st.sampled_from(list(compiled.inputs)), max_size=2, unique=True))
    changes = {f: data.draw(st.sampled_from(domains.get(f, ["unknown-value"])), label=f)
               for f in changed}

    def answer(run: Any) -> Any:
        try:
            return run()
        except (RuleError, KeyError) as exc:
            return (type(exc), str(exc))

    assert answer(lambda: outcome_with(compiled, inputs, changes)) == answer(
        lambda: evaluate(compiled, {**inputs, **changes}, explain=False).outcome)


def test_evaluations_equal_before_and_after_the_query_is_compiled() -> None:
    """The first evaluations of a query walk its plan, later ones run it compiled."""
    compiled = _rules().query("policy")
    saved = {k: compiled.__dict__.pop(k) for k in ("_derived", "_walks") if k in compiled.__dict__}
    try:
        _walk_then_compile(compiled)
    finally:
        compiled.__dict__.update(saved)


def _walk_then_compile(compiled: Any) -> None:
    domains = _domains(*_plan(compiled)[:2])
    inputs = {f: domains.get(f, ["unknown-value"])[0] for f in compiled.inputs}
    first = evaluate(compiled, inputs)
    assert "_derived" not in compiled.__dict__
    for _ in range(20):
        later = evaluate(compiled, inputs)
    assert "_derived" in compiled.__dict__
    assert (later.facts, later.outcome, later.findings, later.reasons, later.input_reasons) == (
        first.facts, first.outcome, first.findings, first.reasons, first.input_reasons)
    assert list(later.facts) == list(first.facts)
