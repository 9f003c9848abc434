"""Build the public verdict objects (docs/contracts.md, "JSON outputs") from evaluations.

Their shapes are seoib.query.verdict_types (held to schemas/*-output.schema.json).
Text output is rendered from the same object, so the two never drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from ..rules.resolve import ResolvedHost, ResolvedVM
from ..rules.ruleset import RuleSet
from ..vocabulary import SEOIB_POLICIES
from .solver import Evaluation, evaluate, outcome_with
from .witness import boot_witness, migration_witness

if TYPE_CHECKING:  # types only: a cold start does not build the TypedDicts
    from .verdict_types import Finding, MigrateVerdict, PolicyVerdict, Reason, VMState, Witness

__all__ = ["assumptions", "check_migrate", "check_policy", "data_reasons", "line_notes",
           "migrate_verdict", "migrate_verdict_and_evaluation", "policy_verdict",
           "policy_verdict_and_evaluation", "reasons", "rule_reasons", "state_of", "unconfirmed"]


def state_of(facts: Mapping[str, Any], side: str) -> VMState | None:
    """A side's VM state, or None where the side never ran (e.g. a refused migration)."""
    policy = facts.get(f"{side}.policy")
    if policy is None:
        return None
    return {"policy": policy, "kvm_flags": facts.get(f"{side}.kvm_flags"),
            "lvr_seoib": facts.get(f"{side}.lvr_seoib"),
            "suppression_honored": facts.get(f"{side}.suppression_honored")}


def reasons(ev: Evaluation, hosts: Mapping[str, ResolvedHost], vm: ResolvedVM) -> list[Reason]:
    """The rules behind the outcome, the decisive one first, then the data they rest on."""
    return data_reasons(rule_reasons(ev), ev, hosts, vm)


RuleReasons: TypeAlias = "tuple[list[Reason], frozenset[tuple[str, str]]]"


def rule_reasons(ev: Evaluation) -> RuleReasons:
    """The rules part of :func:`reasons` (the same for every query of a class), and what it cites.

    Kept beside the evaluation's fields: a class's verdict and its members ask again."""
    kept: RuleReasons | None = ev.__dict__.get("_rule_reasons")
    if kept is not None:
        return kept
    out: list[Reason] = []
    seen: set[tuple[str, str]] = set()
    for r in reversed(ev.reasons):
        c = r.citation()
        if (c.rule, c.text) not in seen:
            seen.add((c.rule, c.text))
            out.append(c.as_json())
    kept = ev.__dict__["_rule_reasons"] = (out, frozenset(seen))
    return kept


def data_reasons(rules: RuleReasons, ev: Evaluation, hosts: Mapping[str, ResolvedHost],
                 vm: ResolvedVM) -> list[Reason]:
    """:func:`reasons` from its rules part: a new list, the data this query's specs rest on added."""
    out, cited = rules
    out = list(out)
    added: set[tuple[str, str]] = set()
    for name in ev.input_reasons:
        role, _, fact = name.partition(".")
        cites = hosts[role].because.get(fact, ()) if role in hosts else vm.because.get(name, ())
        for c in cites:
            key = (c.rule, c.text)
            if key not in cited and key not in added:
                added.add(key)
                out.append(c.as_json())
    return out


def unconfirmed(reason_list: list[Reason]) -> list[str]:
    """The rules behind a verdict that rest on unconfirmed assumptions (e.g. an extrapolated
    QEMU design), in reason order: a verdict flags them rather than hiding them."""
    return list(dict.fromkeys(r["rule"] for r in reason_list if r.get("confirmed") is False))


def assumptions(rs: RuleSet, reason_list: list[Reason]) -> list[dict[str, Any]]:
    """The named switches a verdict rests on (its ``assume.*`` reasons): each with its value,
    default, whether a site changed it and where, and its source."""
    switches = rs.resolver.assumptions
    out = []
    for r in reason_list:
        rule = r["rule"]
        if rule.startswith("assume.") and rule[7:] in switches:
            out.append(switches[rule[7:]].as_json())
    return list({a["id"]: a for a in out}.values())


def _property_what_if(rs: RuleSet) -> dict[str, Any]:
    """What an explicit choice is judged with: an accel-property build's facts (the first
    design whose selection is ``property``), switches as they stand."""
    memo: dict[str, Any] | None = rs.__dict__.get("_property_what_if")
    if memo is None:
        memo = {"host.qemu.selection": "property"}
        for d in rs.resolver.designs.values():
            if d.facts.get("qemu.selection") == "property":
                memo = {f"host.{k}": v for k, v in d.facts.items()}
                break
        rs.__dict__["_property_what_if"] = memo
    return memo


# What becomes of the source after a live migration, per management layer (rules/migration.yaml).
SOURCE_LAYERS = {"qemu": "mig.source_qemu", "libvirt": "mig.source_libvirt"}


def _setter(rs: RuleSet, query: str, facts: Mapping[str, Any], fact: str) -> Any:
    """The rule that set ``fact`` in an evaluation (the compiler proved at most one applies).

    The query's rules that can set it are listed once per compiled query (kept beside its
    fields, never in the rules cache): a migration verdict then tests a handful."""
    compiled = rs.query(query)
    setters: dict[str, tuple[Any, ...]] | None = compiled.__dict__.get("_setters")
    if setters is None:
        setters = {}
        object.__setattr__(compiled, "_setters", setters)
    candidates = setters.get(fact)
    if candidates is None:
        candidates = setters[fact] = tuple(r for r in compiled.rules
                                           if any(a.fact == fact for a in r.then))
    for rule in candidates:
        if all(facts.get(c.fact) in c.allowed for c in rule.when):
            return rule
    return None


def source_after(rs: RuleSet, query: str, facts: Mapping[str, Any]) -> dict[str, Any] | None:
    """The source after a live migration: its state under a plain QMP client (QEMU's
    runstate) and under libvirt, and the rule that says why; None for a restore."""
    state = {layer: facts.get(fact) for layer, fact in SOURCE_LAYERS.items()}
    if state["qemu"] is None:
        return None
    rule = _setter(rs, query, facts, SOURCE_LAYERS["qemu"])
    return {**state, "text": rule.description if rule else "",
            "rule": rule.id if rule else "", "source": rule.source if rule else ""}


def line_notes(hosts: list[ResolvedHost], vm: ResolvedVM) -> dict[str, Any]:
    """`inferred` (a release or machine type past the rules) and the notes, marked.

    These belong to one query's specs, not to its class: a cached class verdict
    answering another line takes them from this function again."""
    if not (vm.inferred or vm.notes or any(h.inferred or h.notes for h in hosts)):
        return {"inferred": False, "notes": []}  # the common case, without building anything
    why = list(dict.fromkeys([*(n for h in hosts for n in h.inferred), *vm.inferred]))
    host_notes = dict.fromkeys(n for h in hosts for n in h.notes)
    return {"inferred": bool(why),
            "notes": [*(f"[inferred] {n}" for n in why), *host_notes, *vm.notes]}


_NO_WITNESS: Witness = {"ran": False, "agrees": None, "outcome": None, "counters": {},
               "note": "the simulator was not asked"}


def _findings(rs: RuleSet, ev: Evaluation) -> list[Finding]:
    return [{"outcome": f, "severity": rs.severities[f]} for f in ev.findings]


def policy_verdict(rs: RuleSet, host: ResolvedHost, vm: ResolvedVM,
                   *, witness: bool = True) -> PolicyVerdict:
    """`seoib policy`: the VM's power-on policy on ``host``, every alternative, and why."""
    return policy_verdict_and_evaluation(rs, host, vm, witness=witness)[0]


def policy_verdict_and_evaluation(rs: RuleSet, host: ResolvedHost, vm: ResolvedVM,
                                  *, witness: bool = True) -> tuple[PolicyVerdict, Evaluation]:
    """:func:`policy_verdict` and the evaluation it came from (a class's members' reasons
    are built from it: :func:`rule_reasons`, :func:`data_reasons`)."""
    query = rs.query("policy")
    inputs = rs.resolver.inputs({"host": host}, vm)
    ev = evaluate(query, inputs)
    alternatives = []
    what_if = _property_what_if(rs)
    for policy in SEOIB_POLICIES:
        # What the user would get by choosing the policy explicitly (-accel property).
        alt = outcome_with(query, inputs, {**what_if, "vm.seoib_policy": policy,
                                           "vm.seoib_policy_given": True})
        alternatives.append({"policy": policy, "outcome": alt, "severity": rs.severities[alt]})
    state = state_of(ev.facts, "host") or {}
    verdict: PolicyVerdict = {
        "command": "policy",
        "rules": {"root": str(rs.root), "digest": rs.digest},
        "host": host.as_json(),
        "vm": vm.as_json(),
        **state,
        "outcome": ev.outcome,
        "severity": rs.severities[ev.outcome],
        "alternatives": alternatives,
        "findings": _findings(rs, ev),
        "reasons": reasons(ev, {"host": host}, vm),
        **line_notes([host], vm),
    }
    verdict["unconfirmed"] = unconfirmed(verdict["reasons"])
    verdict["assumptions"] = assumptions(rs, verdict["reasons"])
    verdict["witness"] = boot_witness(rs.resolver, host, vm, verdict) if witness else _NO_WITNESS
    return verdict, ev


def migrate_verdict(rs: RuleSet, src: ResolvedHost, dst: ResolvedHost, vm: ResolvedVM,
                    *, snapshot: bool = False, witness: bool = True) -> MigrateVerdict:
    """`seoib migrate`: live migration (or loadvm of a snapshot) from ``src`` to ``dst``."""
    return migrate_verdict_and_evaluation(rs, src, dst, vm, snapshot=snapshot, witness=witness)[0]


def migrate_verdict_and_evaluation(rs: RuleSet, src: ResolvedHost, dst: ResolvedHost,
                                   vm: ResolvedVM, *, snapshot: bool = False,
                                   witness: bool = True) -> tuple[MigrateVerdict, Evaluation]:
    """:func:`migrate_verdict` and the evaluation it came from."""
    name = "snapshot" if snapshot else "migrate"
    ev = evaluate(rs.query(name), rs.resolver.inputs({"src": src, "dst": dst}, vm))
    completes = ev.facts.get("mig.completes") is True
    verdict: MigrateVerdict = {
        "command": "migrate",
        "mode": "snapshot" if snapshot else "live",
        "rules": {"root": str(rs.root), "digest": rs.digest},
        "src": src.as_json(),
        "dst": dst.as_json(),
        "vm": vm.as_json(),
        "src_state": state_of(ev.facts, "src"),
        "dst_state": state_of(ev.facts, "dst") if completes else None,
        "source_after": source_after(rs, name, ev.facts),
        "outcome": ev.outcome,
        "severity": rs.severities[ev.outcome],
        "findings": _findings(rs, ev),
        "reasons": reasons(ev, {"src": src, "dst": dst}, vm),
        **line_notes([src, dst], vm),
    }
    verdict["unconfirmed"] = unconfirmed(verdict["reasons"])
    verdict["assumptions"] = assumptions(rs, verdict["reasons"])
    verdict["witness"] = (migration_witness(rs.resolver, src, dst, vm, verdict, snapshot=snapshot)
                          if witness else _NO_WITNESS)
    return verdict, ev


def _inputs(rs: RuleSet, vm: ResolvedVM, *roles: tuple[str, ResolvedHost]) -> dict[str, Any]:
    """``Resolver.inputs`` for a sweep: a host's prefixed facts depend on the VM's machine
    type alone (its registration, gate and stream facts), so they are built once per role
    and machine type and kept beside the host's fields; a query's inputs are then the VM's
    facts and one dict update per role."""
    facts = dict(vm.facts)
    for role, host in roles:
        memo: dict[tuple[str, str], dict[str, Any]] | None = host.__dict__.get("_role_inputs")
        if memo is None:
            memo = host.__dict__["_role_inputs"] = {}
        key = (role, vm.machine.name)
        part = memo.get(key)
        if part is None:
            prefix = f"{role}."
            part = memo[key] = {k: v for k, v in rs.resolver.inputs({role: host}, vm).items()
                                if k.startswith(prefix)}
        facts.update(part)
    return facts


def check_policy(rs: RuleSet, host: ResolvedHost, vm: ResolvedVM) -> tuple[str, Witness]:
    """The power-on outcome and its witness, without the rest of a verdict: what a sweep
    over a class space needs (the states the witness compares come from the same facts).
    Nothing here reads the reasons, so the evaluation skips the walk back through the rules."""
    ev = evaluate(rs.query("policy"), _inputs(rs, vm, ("host", host)), explain=False)
    head: dict[str, Any] = {"outcome": ev.outcome, **(state_of(ev.facts, "host") or {})}
    return ev.outcome, boot_witness(rs.resolver, host, vm, head)  # type: ignore[arg-type]


def check_migrate(rs: RuleSet, src: ResolvedHost, dst: ResolvedHost, vm: ResolvedVM,
                  *, snapshot: bool = False) -> tuple[str, Witness]:
    """The migration (or loadvm) outcome and its witness, as :func:`check_policy`."""
    name = "snapshot" if snapshot else "migrate"
    ev = evaluate(rs.query(name), _inputs(rs, vm, ("src", src), ("dst", dst)), explain=False)
    completes = ev.facts.get("mig.completes") is True
    runstate = ev.facts.get(SOURCE_LAYERS["qemu"])  # the witness compares QEMU's runstate only
    head = {"outcome": ev.outcome, "src_state": state_of(ev.facts, "src"),
            "dst_state": state_of(ev.facts, "dst") if completes else None,
            "source_after": {"qemu": runstate} if runstate is not None else None}
    return ev.outcome, migration_witness(rs.resolver, src, dst, vm, head,  # type: ignore[arg-type]
                                         snapshot=snapshot)
