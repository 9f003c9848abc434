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
from .solver import Evaluation, evaluate
from .verdict_cache import VerdictCache, class_key
from .verdict_types import MigrateVerdict, PolicyVerdict
from .verdicts import (
    RuleReasons,
    assumptions,
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
        # class key -> the class's first verdict, whole (members rebuild their own parts)
        self.verdicts = VerdictCache(keep=None)
        # class key -> (its evaluation, the rules part of its reasons), once a second line needs them
        self._class_reasons: dict[tuple, tuple[Evaluation, RuleReasons]] = {}
        # line texts -> the verdict built for them (reused when a line repeats)
        self._lines: dict[tuple[str, ...], Any] = {}
        # resolved host or VM -> its JSON part, one object per spec (encoders reuse it by identity)
        self._parts: dict[int, tuple[Any, dict[str, Any]]] = {}

    @property
    def classes(self) -> int:
        """How many classes were evaluated (and simulated) so far."""
        return len(self.verdicts)

    def _bound(self) -> None:
        if len(self._lines) > MAX_TEXTS or len(self._hosts) > MAX_TEXTS:
            self._hosts.clear()
            self._vms.clear()
            self._vm_specs.clear()
            self._keys.clear()
            self._lines.clear()
            self._parts.clear()
            self.verdicts.forget_parts()

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
        # A VM resolves against its host's design's default policy (and the switch it comes
        # from); an alias also against its QEMU (the target), named as written in its note.
        # Nothing else of the host is read.
        # The default policy may come from a switch, which the VM's reasons then cite.
        policy = (host.design.default_policy, host.design.switches.get("default_policy"))
        if parsed.machine in self.rs.resolver.machines.aliases:
            key = (text, host.qemu.id, policy, host.qemu_text)
        else:
            key = (text, "", policy, "")
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
            # The class (verdict_cache.class_key) is keyed in parts, each host's and VM's
            # facts sorted once, not per line.
            machine_facts, cache = self.rs.resolver.machine_facts, self.verdicts
            key = class_key(query, cache.vm_part(vm),
                            *(cache.host_part(h, machine_facts(h, vm)) for h in hosts.values()))
            hit = self._keys[text_key] = (key, hosts, vm)
        return hit

    def _reasons(self, key: tuple, query: str, roles: dict[str, ResolvedHost],
                 vm: ResolvedVM) -> list[dict]:
        """A member's reasons: the class's evaluation and the rules part of its reasons (the
        same for every member) are computed on first reuse; the data part is the member's."""
        hit = self._class_reasons.get(key)
        if hit is None:
            ev = evaluate(self.rs.query(query), self.rs.resolver.inputs(roles, vm))
            hit = self._class_reasons[key] = (ev, rule_reasons(ev))
        ev, rules = hit
        return data_reasons(rules, ev, roles, vm)

    def policy(self, host: Spec, vm: Spec) -> PolicyVerdict:
        line = ("policy", _text(host), _text(vm))
        done = self._lines.get(line)
        if done is not None:
            return done
        self._bound()
        key, roles, v = self._class_key("policy", {"host": host}, vm)
        h = roles["host"]
        hit = self.verdicts.get(key)
        verdict: Any
        if hit is None:
            verdict = self.verdicts.add(key, policy_verdict(self.rs, h, v, witness=self.witness))
        else:
            why = self._reasons(key, "policy", roles, v)
            verdict = {**hit, "host": self._json(h), "vm": self._json(v), "reasons": why,
                       **line_notes([h], v), "unconfirmed": unconfirmed(why),
                       "assumptions": assumptions(self.rs, why)}
        self._lines[line] = verdict
        return verdict

    def migrate(self, src: Spec, dst: Spec, vm: Spec, *, snapshot: bool = False) -> MigrateVerdict:
        query = "snapshot" if snapshot else "migrate"
        line = (query, _text(src), _text(dst), _text(vm))
        done = self._lines.get(line)
        if done is not None:
            return done
        self._bound()
        # Aliases resolve on the source (the first role): its machine type is fixed there.
        key, roles, v = self._class_key(query, {"src": src, "dst": dst}, vm)
        s, d = roles["src"], roles["dst"]
        hit = self.verdicts.get(key)
        verdict: Any
        if hit is None:
            verdict = self.verdicts.add(key, migrate_verdict(self.rs, s, d, v, snapshot=snapshot,
                                                             witness=self.witness))
        else:
            why = self._reasons(key, query, roles, v)
            verdict = {**hit, "src": self._json(s), "dst": self._json(d), "vm": self._json(v),
                       "reasons": why, **line_notes([s, d], v), "unconfirmed": unconfirmed(why),
                       "assumptions": assumptions(self.rs, why)}
        self._lines[line] = verdict
        return verdict
