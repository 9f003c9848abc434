"""In-process entry point for programs that ask many questions of one rule set.

Specs are parsed and resolved once per distinct text, and each query is
evaluated and held against the simulator once per class (its input facts and
guest): a warm query is a few dictionary lookups. A verdict for a spec that
differs from its class's first one shares the class's outcome, alternatives
and witness, and gets its own ``host``/``vm``/``reasons``/``notes`` - exactly
what ``seoib policy``/``seoib migrate`` print for it. Its witness is the
class's simulator run, whose events may name the class's first machine type.
Returned verdicts are shared: treat them as read-only.

The text memos are bounded (``MAX_TEXTS``): a long-running service that sees
endless distinct specs keeps flat memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import Location
from ..rules.resolve import ResolvedHost, ResolvedVM
from ..rules.ruleset import RuleSet, load_rules
from ..rules.specs import VMSpec, parse_host_spec, parse_vm_spec
from .solver import evaluate
from .verdicts import (
    data_reasons,
    line_notes,
    migrate_verdict,
    policy_verdict,
    rule_reasons,
    unconfirmed,
)

__all__ = ["MAX_TEXTS", "Engine", "Spec"]

Spec = str | Mapping[str, Any]
MAX_TEXTS = 200_000  # distinct spec texts remembered before the memos start over


def _text(spec: Spec) -> str:
    return spec if isinstance(spec, str) else json.dumps(spec, sort_keys=True, default=str)


class Engine:
    """Cached `policy` and `migrate` verdicts over one rule set.

    >>> engine = Engine()
    >>> engine.policy("kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "machine=q35,irqchip=split")["policy"]
    'respected'
    """

    def __init__(self, rules: str | Path | RuleSet | None = None, *, witness: bool = True) -> None:
        self.rs = rules if isinstance(rules, RuleSet) else load_rules(rules)
        self.witness = witness
        self._hosts: dict[str, ResolvedHost] = {}
        self._vm_specs: dict[str, VMSpec] = {}
        self._vms: dict[tuple[str, str, str, str], ResolvedVM] = {}
        self._keys: dict[tuple[str, ...], tuple[tuple, dict[str, ResolvedHost], ResolvedVM]] = {}
        # class key -> [the class's first verdict, (its evaluation, the rules part of its
        # reasons) once a second line needs them]
        self._verdicts: dict[tuple, list[Any]] = {}
        # line texts -> the verdict built for them (reused when a line repeats)
        self._lines: dict[tuple[str, ...], dict[str, Any]] = {}
        # resolved host or VM -> its JSON part, one object per spec (encoders reuse it by identity)
        self._parts: dict[int, tuple[Any, dict[str, Any]]] = {}
        # resolved host or VM -> its facts as sorted items, the parts of a class key
        self._fact_keys: dict[int, tuple[Any, tuple]] = {}

    @property
    def classes(self) -> int:
        """How many classes were evaluated (and simulated) so far."""
        return len(self._verdicts)

    def _bound(self) -> None:
        if len(self._lines) > MAX_TEXTS or len(self._hosts) > MAX_TEXTS:
            self._hosts.clear()
            self._vms.clear()
            self._vm_specs.clear()
            self._keys.clear()
            self._lines.clear()
            self._parts.clear()
            self._fact_keys.clear()

    def _json(self, resolved: ResolvedHost | ResolvedVM) -> dict[str, Any]:
        hit = self._parts.get(id(resolved))
        if hit is None or hit[0] is not resolved:
            hit = self._parts[id(resolved)] = (resolved, resolved.as_json())
        return hit[1]

    def host(self, spec: Spec, role: str = "host") -> ResolvedHost:
        text = _text(spec)
        h = self._hosts.get(text)
        if h is None:
            h = self._hosts[text] = self.rs.resolver.host(parse_host_spec(spec, Location(role)))
        return h

    def vm(self, spec: Spec, host_spec: Spec) -> ResolvedVM:
        text, host = _text(spec), self.host(host_spec)
        parsed = self._vm_specs.get(text)
        if parsed is None:
            parsed = self._vm_specs[text] = parse_vm_spec(spec, Location("vm"))
        # A VM resolves against its host's design's default policy; an alias also against its
        # QEMU (the target), named as written in its note. Nothing else of the host is read.
        if parsed.machine in self.rs.resolver.machines.aliases:
            key = (text, host.qemu.id, host.design.default_policy, host.qemu_text)
        else:
            key = (text, "", host.design.default_policy, "")
        v = self._vms.get(key)
        if v is None:
            v = self._vms[key] = self.rs.resolver.vm(parsed, host)
        return v

    def _class_key(self, query: str, roles: dict[str, Spec],
                   vm_spec: Spec) -> tuple[tuple, dict[str, ResolvedHost], ResolvedVM]:
        """(class key, resolved hosts by role, resolved VM) of a line's spec texts."""
        text_key = (query, *map(_text, roles.values()), _text(vm_spec))
        hit = self._keys.get(text_key)
        if hit is None:
            hosts = {role: self.host(t, role) for role, t in roles.items()}
            vm = self.vm(vm_spec, next(iter(roles.values())))
            # The class is the query's input facts (Resolver.inputs) and the guest. They are
            # keyed in parts - the VM's facts, then per role its host's facts and the two that
            # depend on the machine type - each host's and VM's part sorted once, not per line.
            machine_facts = self.rs.resolver.machine_facts
            parts: list[Any] = [query, self._facts_key(vm, ()), vm.guest.id]
            for role, h in hosts.items():
                mf = machine_facts(h, vm)
                parts.append((role, self._facts_key(h, mf), tuple(mf.items())))
            hit = self._keys[text_key] = (tuple(parts), hosts, vm)
        return hit

    def _facts_key(self, resolved: ResolvedHost | ResolvedVM, skip: Mapping[str, Any]) -> tuple:
        """``resolved.facts`` as sorted items, without ``skip``'s keys (set per machine type)."""
        hit = self._fact_keys.get(id(resolved))
        if hit is None or hit[0] is not resolved:
            items = tuple(sorted((k, v) for k, v in resolved.facts.items() if k not in skip))
            hit = self._fact_keys[id(resolved)] = (resolved, items)
        return hit[1]

    def _reasons(self, hit: list[Any], query: str, roles: dict[str, ResolvedHost],
                 vm: ResolvedVM) -> list[dict]:
        """A member's reasons: the class's evaluation and the rules part of its reasons (the
        same for every member) are computed on first reuse; the data part is the member's."""
        if hit[1] is None:
            ev = evaluate(self.rs.query(query), self.rs.resolver.inputs(roles, vm))
            hit[1] = (ev, rule_reasons(ev))
        ev, rules = hit[1]
        return data_reasons(rules, ev, roles, vm)

    def policy(self, host: Spec, vm: Spec) -> dict[str, Any]:
        line = ("policy", _text(host), _text(vm))
        done = self._lines.get(line)
        if done is not None:
            return done
        self._bound()
        key, roles, v = self._class_key("policy", {"host": host}, vm)
        h = roles["host"]
        hit = self._verdicts.get(key)
        if hit is None:
            verdict = policy_verdict(self.rs, h, v, witness=self.witness)
            self._verdicts[key] = [verdict, None]
        else:
            why = self._reasons(hit, "policy", roles, v)
            verdict = {**hit[0], "host": self._json(h), "vm": self._json(v), "reasons": why,
                       **line_notes([h], v), "unconfirmed": unconfirmed(why)}
        self._lines[line] = verdict
        return verdict

    def migrate(self, src: Spec, dst: Spec, vm: Spec, *, snapshot: bool = False) -> dict[str, Any]:
        query = "snapshot" if snapshot else "migrate"
        line = (query, _text(src), _text(dst), _text(vm))
        done = self._lines.get(line)
        if done is not None:
            return done
        self._bound()
        # Aliases resolve on the source (the first role): its machine type is fixed there.
        key, roles, v = self._class_key(query, {"src": src, "dst": dst}, vm)
        s, d = roles["src"], roles["dst"]
        hit = self._verdicts.get(key)
        if hit is None:
            verdict = migrate_verdict(self.rs, s, d, v, snapshot=snapshot, witness=self.witness)
            self._verdicts[key] = [verdict, None]
        else:
            why = self._reasons(hit, query, roles, v)
            verdict = {**hit[0], "src": self._json(s), "dst": self._json(d), "vm": self._json(v),
                       "reasons": why, **line_notes([s, d], v), "unconfirmed": unconfirmed(why)}
        self._lines[line] = verdict
        return verdict
