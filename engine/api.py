"""In-process entry point for programs that ask many questions of one rule set.

Specs are parsed and resolved once per distinct text, and verdicts are cached
by class (the query's input facts), so a warm query is a few dictionary
lookups. Returned verdicts are shared: treat them as read-only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import Location
from .resolve import ResolvedHost, ResolvedVM
from .ruleset import RuleSet, load_rules
from .specs import parse_host_spec, parse_vm_spec
from .verdicts import migrate_verdict, policy_verdict

__all__ = ["Engine"]


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
        self._vms: dict[tuple[str, str], ResolvedVM] = {}
        self._keys: dict[tuple[str, ...], tuple] = {}
        self._verdicts: dict[tuple, dict[str, Any]] = {}

    def host(self, text: str) -> ResolvedHost:
        h = self._hosts.get(text)
        if h is None:
            h = self._hosts[text] = self.rs.resolver.host(parse_host_spec(text, Location("host")))
        return h

    def vm(self, text: str, host_text: str) -> ResolvedVM:
        key = (text, self.host(host_text).qemu.id)
        v = self._vms.get(key)
        if v is None:
            v = self._vms[key] = self.rs.resolver.vm(parse_vm_spec(text, Location("vm")),
                                                     self.host(host_text))
        return v

    def _class_key(self, query: str, roles: dict[str, str], vm_text: str) -> tuple:
        text_key = (query, *roles.values(), vm_text)
        key = self._keys.get(text_key)
        if key is None:
            hosts = {role: self.host(t) for role, t in roles.items()}
            vm = self.vm(vm_text, next(iter(roles.values())))
            inputs = self.rs.resolver.inputs(hosts, vm)
            key = self._keys[text_key] = (query, tuple(sorted(inputs.items())), vm.guest.id)
        return key

    def policy(self, host: str, vm: str) -> dict[str, Any]:
        key = self._class_key("policy", {"host": host}, vm)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = policy_verdict(
                self.rs, self.host(host), self.vm(vm, host), witness=self.witness)
        return verdict

    def migrate(self, src: str, dst: str, vm: str, *, snapshot: bool = False) -> dict[str, Any]:
        key = self._class_key("snapshot" if snapshot else "migrate", {"src": src, "dst": dst}, vm)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = migrate_verdict(
                self.rs, self.host(src), self.host(dst), self.vm(vm, src), snapshot=snapshot,
                witness=self.witness)
        return verdict
