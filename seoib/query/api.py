"""In-process entry point for programs that ask many questions of one rule set.

Specs are parsed and resolved once per distinct text, and each query is
evaluated and held against the simulator once per class (its input facts and
guest): a warm query is a few dictionary lookups. A verdict for a spec that
differs from its class's first one shares the class's outcome, alternatives
and witness, and gets its own ``host``/``vm``/``reasons``/``notes`` - exactly
what ``seoib policy``/``seoib migrate`` print for it. Its witness is the
class's simulator run, whose events may name the class's first machine type.
Returned verdicts are shared: treat them as read-only.

The memos are bounded by bytes (:class:`seoib.memo.SizedMemo`, ``MEMO_BYTES`` in all)
and keyed by what decides a verdict: a spec's ``name`` and its key order change no
verdict, so hosts and VMs are resolved once per spec without them and named per
line. A long-running service that sees endless distinct spec texts keeps flat
memory. A spec text (or a spec object's JSON) longer than ``MAX_SPEC_TEXT`` is
refused before anything is parsed or kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import Location, SpecError
from ..memo import ENTRY_BYTES, SizedMemo
from ..record import replace
from ..rules.resolve import ResolvedHost, ResolvedVM
from ..rules.ruleset import RuleSet, load_rules
from ..rules.specs import parse_host_spec, parse_vm_spec
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

__all__ = ["MAX_SPEC_TEXT", "MEMO_BYTES", "Engine", "Spec"]

Spec = str | Mapping[str, Any]
# What one Engine's memos may hold, all together: a batch is one process that ends, and a
# line memo that holds its working set keeps a repeated line at a lookup; a service passes
# less (seoib.serve keeps 16 MiB per worker).
MEMO_BYTES = 256 << 20
MAX_SPEC_TEXT = 4096  # bytes of one spec as written: far above any real spec (~100)
# What an entry adds besides its key texts (measured with tracemalloc over distinct specs):
_RESOLVED_BYTES = 1500  # a resolved host or VM and its facts
_JSON_BYTES = 700  # a resolved host's or VM's JSON part
_VERDICT_BYTES = 2500  # a member verdict: its own dict, reasons list, notes
_KEY_BYTES = 600  # a class key and the resolved objects it names
_FACT_PARTS = 4096  # sorted fact parts kept by the verdict cache before they start over


def _text(spec: Spec, role: str) -> str:
    text = spec if isinstance(spec, str) else json.dumps(spec, sort_keys=True, default=str)
    if len(text) > MAX_SPEC_TEXT:
        raise SpecError(f"the spec is {len(text)} characters long; a spec is at most "
                        f"{MAX_SPEC_TEXT}", Location(role))
    return text


def _cost(extra: int) -> Any:
    """A memo's charge: the entry, its key texts and ``extra`` bytes for its value."""
    def cost(key: Any, value: Any) -> int:
        if isinstance(key, str):
            return ENTRY_BYTES + extra + len(key)
        if isinstance(key, tuple):
            return ENTRY_BYTES + extra + sum(len(k) for k in key if isinstance(k, str))
        return ENTRY_BYTES + extra
    return cost


class Engine:
    """Cached `policy` and `migrate` verdicts over one rule set.

    >>> engine = Engine()
    >>> engine.policy("kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "machine=q35,irqchip=split")["policy"]
    'respected'
    """

    def __init__(self, rules: str | Path | RuleSet | None = None, *, witness: bool = True,
                 memo_bytes: int = MEMO_BYTES) -> None:
        self.rs = rules if isinstance(rules, RuleSet) else load_rules(rules)
        self.witness = witness
        part = memo_bytes // 8
        # spec text -> (resolved without name, resolved as named); resolved by the spec
        # without name and origin, which alone decide the facts
        self._hosts: SizedMemo[str, tuple[ResolvedHost, ResolvedHost]] = SizedMemo(part, _cost(200))
        self._host_bases: SizedMemo[Any, ResolvedHost] = SizedMemo(part, _cost(_RESOLVED_BYTES))
        self._vm_specs: SizedMemo[str, Any] = SizedMemo(part // 2, _cost(400))
        self._vms: SizedMemo[tuple, ResolvedVM] = SizedMemo(part, _cost(_RESOLVED_BYTES))
        self._keys: SizedMemo[tuple, tuple] = SizedMemo(part, _cost(_KEY_BYTES))
        # class key -> the class's first verdict, whole (members rebuild their own parts)
        self.verdicts = VerdictCache(keep=None)
        # class key -> (its evaluation, the rules part of its reasons), once a second line needs them
        self._class_reasons: dict[tuple, tuple[Evaluation, RuleReasons]] = {}
        # line texts -> the verdict built for them (reused when a line repeats)
        self._lines: SizedMemo[tuple, Any] = SizedMemo(part * 2 + part // 2, _cost(_VERDICT_BYTES))
        # (query, ids of the unnamed hosts and VM) -> (them, the parts of a member's verdict their
        # data gives): lines that differ only in names share reasons, notes and assumptions
        self._members: SizedMemo[tuple, Any] = SizedMemo(part // 2, _cost(_VERDICT_BYTES))
        # resolved host or VM -> its JSON part, one object per spec (encoders reuse it by identity)
        self._parts: SizedMemo[int, tuple[Any, dict[str, Any]]] = SizedMemo(part, _cost(_JSON_BYTES))
        self._new_bases = 0

    @property
    def classes(self) -> int:
        """How many classes were evaluated (and simulated) so far."""
        return len(self.verdicts)

    def _based(self) -> None:
        """One more resolved object keyed in the verdict cache's fact parts: those are kept by
        object, so they start over now and then (recomputed once per object in use)."""
        self._new_bases += 1
        if self._new_bases > _FACT_PARTS:
            self._new_bases = 0
            self.verdicts.forget_parts()

    def _json(self, resolved: ResolvedHost | ResolvedVM) -> dict[str, Any]:
        hit = self._parts.get(id(resolved))
        if hit is None or hit[0] is not resolved:
            hit = self._parts.put(id(resolved), (resolved, resolved.as_json()))
        return hit[1]

    def _host(self, spec: Spec, role: str) -> tuple[ResolvedHost, ResolvedHost]:
        """(the host resolved without its name, the host as named) for a spec."""
        text = _text(spec, role)
        hit = self._hosts.get(text)
        if hit is None:
            parsed = parse_host_spec(spec, Location(role))
            key = replace(parsed, name=None, origin=None)
            base = self._host_bases.get(key)
            if base is None:
                base = self._host_bases.put(key, self.rs.resolver.host(replace(parsed, name=None)))
                self._based()
            named = base
            if parsed.name is not None:
                named_spec = replace(base.spec, name=parsed.name)
                named = replace(base, spec=named_spec, label=named_spec.label())
            hit = self._hosts.put(text, (base, named))
        return hit

    def host(self, spec: Spec, role: str = "host") -> ResolvedHost:
        return self._host(spec, role)[1]

    def _vm(self, spec: Spec, host: ResolvedHost) -> tuple[ResolvedVM, ResolvedVM]:
        """(the VM resolved without its name, the VM as named) on a host (without its name)."""
        text = _text(spec, "vm")
        hit = self._vm_specs.get(text)
        if hit is None:
            parsed = parse_vm_spec(spec, Location("vm"))
            hit = self._vm_specs.put(text, (parsed, replace(parsed, name=None, origin=None),
                                            parsed.machine in self.rs.resolver.machines.aliases))
        parsed, bare, alias = hit
        # A VM resolves against its host's design's default policy (and the switch it may come
        # from, which the VM's reasons then cite); an alias also against its QEMU (the target),
        # named as written in its note. Nothing else of the host is read.
        policy = (host.design.default_policy, host.design.switches.get("default_policy"))
        key = (bare, host.qemu.id, policy, host.qemu_text) if alias else (bare, "", policy, "")
        base = self._vms.get(key)
        if base is None:
            base = self._vms.put(key, self.rs.resolver.vm(replace(parsed, name=None), host))
            self._based()
        if parsed.name is None:
            return base, base
        return base, replace(base, spec=replace(base.spec, name=parsed.name))

    def vm(self, spec: Spec, host_spec: Spec) -> ResolvedVM:
        return self._vm(spec, self._host(host_spec, "host")[0])[1]

    def _class_key(self, query: str, roles: dict[str, Spec], vm_spec: Spec
                   ) -> tuple[tuple, dict[str, ResolvedHost], ResolvedVM, tuple[Any, ...]]:
        """(class key, resolved hosts by role, resolved VM, the unnamed ones) of a line's spec
        texts, named as the line names them; the unnamed hosts (in role order) then VM."""
        text_key = (query, *(_text(s, role) for role, s in roles.items()), _text(vm_spec, "vm"))
        hit = self._keys.get(text_key)
        if hit is None:
            pairs = {role: self._host(t, role) for role, t in roles.items()}
            vm_base, vm = self._vm(vm_spec, next(iter(pairs.values()))[0])
            # The class (verdict_cache.class_key) is keyed in parts, each host's and VM's
            # facts sorted once per resolved object (the unnamed ones, shared by names).
            machine_facts, cache = self.rs.resolver.machine_facts, self.verdicts
            key = class_key(query, cache.vm_part(vm_base),
                            *(cache.host_part(b, machine_facts(b, vm_base)) for b, _ in pairs.values()))
            hit = self._keys.put(text_key, (key, {role: p[1] for role, p in pairs.items()}, vm,
                                             (*(b for b, _ in pairs.values()), vm_base)))
        return hit

    def _member(self, key: tuple, query: str, roles: dict[str, ResolvedHost], vm: ResolvedVM,
                bases: tuple[Any, ...]) -> dict[str, Any]:
        """A member's own parts: reasons, unconfirmed rules, assumptions, inferred and notes.

        The class's evaluation and the rules part of its reasons (the same for every member)
        are computed on first reuse; the data part comes from the member's specs without their
        names (names change no citation), so lines that differ in names alone share it. The
        notes are the line's own: a host's notes carry its name."""
        mkey = (query, *map(id, bases))
        hit = self._members.get(mkey)
        if hit is not None and all(a is b for a, b in zip(hit[0], bases, strict=True)):
            return {**hit[1], **line_notes(list(roles.values()), vm)}
        reused = self._class_reasons.get(key)
        if reused is None:
            ev = evaluate(self.rs.query(query), self.rs.resolver.inputs(roles, vm))
            reused = self._class_reasons[key] = (ev, rule_reasons(ev))
        ev, rules = reused
        *hosts, vm_base = bases
        why = data_reasons(rules, ev, dict(zip(roles, hosts, strict=True)), vm_base)
        parts = {"reasons": why, "unconfirmed": unconfirmed(why), "assumptions": assumptions(self.rs, why)}
        self._members.put(mkey, (bases, parts))
        return {**parts, **line_notes(list(roles.values()), vm)}

    def policy(self, host: Spec, vm: Spec) -> PolicyVerdict:
        line = ("policy", _text(host, "host"), _text(vm, "vm"))
        done = self._lines.get(line)
        if done is not None:
            return done
        key, roles, v, bases = self._class_key("policy", {"host": host}, vm)
        h = roles["host"]
        hit = self.verdicts.get(key)
        verdict: Any
        if hit is None:
            verdict = self.verdicts.add(key, policy_verdict(self.rs, h, v, witness=self.witness))
        else:
            verdict = {**hit, "host": self._json(h), "vm": self._json(v),
                       **self._member(key, "policy", roles, v, bases)}
        return self._lines.put(line, verdict)

    def migrate(self, src: Spec, dst: Spec, vm: Spec, *, snapshot: bool = False) -> MigrateVerdict:
        query = "snapshot" if snapshot else "migrate"
        line = (query, _text(src, "src"), _text(dst, "dst"), _text(vm, "vm"))
        done = self._lines.get(line)
        if done is not None:
            return done
        # Aliases resolve on the source (the first role): its machine type is fixed there.
        key, roles, v, bases = self._class_key(query, {"src": src, "dst": dst}, vm)
        s, d = roles["src"], roles["dst"]
        hit = self.verdicts.get(key)
        verdict: Any
        if hit is None:
            verdict = self.verdicts.add(key, migrate_verdict(self.rs, s, d, v, snapshot=snapshot,
                                                             witness=self.witness))
        else:
            verdict = {**hit, "src": self._json(s), "dst": self._json(d), "vm": self._json(v),
                       **self._member(key, query, roles, v, bases)}
        return self._lines.put(line, verdict)
