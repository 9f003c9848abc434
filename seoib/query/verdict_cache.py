"""One memo of policy/migrate verdicts by class, and its simulator tally.

Every caller that answers many queries (``Engine``, ``ClassSolver``, the plan
``Fleet``, the design comparison) stores its verdicts here, so the three things
that must agree between them live in one place:

- the class key (:func:`class_key`): the query, the VM's facts and guest, and
  per host role (in the query's role order) the host's facts and the facts that
  depend on the VM's machine type - exactly what ``Resolver.inputs`` hands the
  rules, plus the guest, whose behaviour the simulator models by name;
- the kept fields: a class summary (:data:`CLASS_FIELDS`) or the whole verdict;
- the tally: ``validated`` counts verdicts whose witness ran, and a disagreement
  is a witness whose ``agrees`` is False (it differed, or the simulator has no
  model of the stack); a witness that was not asked (``agrees`` None) is neither.

A caller may key by something finer than the class (the design comparison keys
by spec, so its counts are of distinct specs); the tally does not depend on it.
Stored verdicts are shared: treat them as read-only.
"""

from __future__ import annotations

from collections.abc import KeysView, Mapping
from types import MappingProxyType
from typing import Any

from ..rules.resolve import ResolvedHost, ResolvedVM
from .verdict_types import DisagreementRecord

__all__ = ["CLASS_FIELDS", "FactItems", "HostPart", "VMPart", "VerdictCache", "class_key"]

# What a class verdict keeps when the caller does not need the whole verdict: the parts
# every member of the class shares (its specs, notes and "inferred" are the member's).
CLASS_FIELDS = ("outcome", "severity", "findings", "reasons", "witness", "policy", "kvm_flags",
                "lvr_seoib", "suppression_honored", "src_state", "dst_state")

_NOTHING: Mapping[str, Any] = MappingProxyType({})

FactItems = tuple[tuple[str, Any], ...]
VMPart = tuple[FactItems, str]  # the VM's facts, its guest
HostPart = tuple[FactItems, FactItems]  # a host's facts bar the machine facts, the machine facts


def class_key(query: str, vm: VMPart, *hosts: HostPart) -> tuple:
    """The key of a query's class: hosts in the query's role order (host; or src, dst).

    >>> class_key("policy", ((("vm.x2apic", True),), "linux"), ((("kernel.seoib", True),), ()))
    ('policy', ((('vm.x2apic', True),), 'linux'), ((('kernel.seoib', True),), ()))
    """
    return (query, vm, *hosts)


class VerdictCache:
    """Verdicts by key, the fields kept of each, and what their witnesses found.

    ``get`` is the dictionary's own lookup (a cached verdict costs one call);
    ``add`` keeps the fields, tallies the witness and returns what it stored.
    """

    __slots__ = ("_facts", "_store", "disagreements", "get", "keep", "validated")

    def __init__(self, keep: tuple[str, ...] | None = CLASS_FIELDS) -> None:
        self.keep = keep  # None: the whole verdict
        self._store: dict[tuple, dict[str, Any]] = {}
        self.get = self._store.get
        self.validated = 0
        self.disagreements: list[DisagreementRecord] = []
        # resolved host or VM -> (it, its facts as sorted items), parts of class keys
        self._facts: dict[int, tuple[Any, FactItems]] = {}

    def __len__(self) -> int:
        """How many verdicts were evaluated (and, when asked, simulated)."""
        return len(self._store)

    def keys(self) -> KeysView[tuple]:
        """The keys of the verdicts stored so far."""
        return self._store.keys()

    def add(self, key: tuple, verdict: Mapping[str, Any]) -> dict[str, Any]:
        """Store ``verdict`` under ``key`` (fields kept) and tally its witness."""
        w = verdict["witness"]
        if w.get("ran"):
            self.validated += 1
        if w.get("agrees") is False:
            self.disagreements.append({"command": verdict["command"], "outcome": verdict["outcome"],
                                       "differences": list(w.get("differences", []))})
        keep = self.keep
        kept = (dict(verdict) if not isinstance(verdict, dict) else verdict) if keep is None \
            else {k: verdict[k] for k in keep if k in verdict}
        self._store[key] = kept
        return kept

    def facts(self, resolved: ResolvedHost | ResolvedVM, skip: Mapping[str, Any] = _NOTHING
              ) -> FactItems:
        """``resolved.facts`` as sorted items without ``skip``'s keys, sorted once per object.

        ``skip`` is a host's machine facts: their keys are the same for every machine
        type, so one entry per host serves them all."""
        hit = self._facts.get(id(resolved))
        if hit is None or hit[0] is not resolved:
            items = tuple(sorted((k, v) for k, v in resolved.facts.items() if k not in skip))
            hit = self._facts[id(resolved)] = (resolved, items)
        return hit[1]

    def vm_part(self, vm: ResolvedVM) -> VMPart:
        return (self.facts(vm), vm.guest.id)

    def host_part(self, host: ResolvedHost, machine_facts: Mapping[str, Any]) -> HostPart:
        return (self.facts(host, machine_facts), tuple(machine_facts.items()))

    def forget_parts(self) -> None:
        """Drop the sorted facts (a bounded caller starting its memos over); verdicts stay."""
        self._facts.clear()
