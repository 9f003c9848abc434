"""The ways one block of hosts can reach a target host spec, step by step.

An upgrade splits into a kernel step (kernel, x2apic-api) and a QEMU step (qemu,
seoib, machines). A block may take them kernel first, QEMU first, or both at once;
or, where its QEMU build picks the SEOIB policy automatically (rfc-v2) and its
kernel changes, park the build first on a design that boots VMs quirked unless they
opt in yet knows the migration section (the first such design in
rules/designs.yaml: accel-property), so that VMs booted on its hosts the kernel
wave has already reached carry nothing their not-yet-upgraded peers would abort on,
then take the kernel, then the target's QEMU step. Each way is a chain of steps;
steps that change nothing are dropped and chains that end up alike are kept once
(tests/plan/test_chains.py shows the ways of a kernel-only upgrade under rfc-v2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import Location
from .fleetclasses import FleetClasses

__all__ = ["CHAINS", "KERNEL_KEYS", "QEMU_KEYS", "Chain", "Step", "chains", "park_design"]

KERNEL_KEYS = ("kernel", "x2apic-api")
QEMU_KEYS = ("qemu", "seoib", "machines")
# The ways, in the order the planner tries them.
CHAINS = {"kernel-first": ("kernel", "qemu"), "quiet-kernel": ("quiet", "kernel", "qemu"),
          "together": ("kernel+qemu",), "qemu-first": ("qemu", "kernel")}


@dataclass(frozen=True)
class Step:
    kind: str  # kernel, qemu, kernel+qemu or quiet
    change: tuple[tuple[str, Any], ...]  # the wave's set, as items

    @property
    def set(self) -> dict[str, Any]:
        return dict(self.change)


@dataclass(frozen=True)
class Chain:
    name: str  # one of CHAINS
    steps: tuple[Step, ...]


def park_design(fleet: FleetClasses) -> str | None:
    """A SEOIB design that knows the migration section yet boots VMs quirked unless they
    opt in: hosts on it accept VMs of every state and give new ones nothing to carry."""
    for design in fleet.rs.resolver.designs.values():
        if (design.facts.get("qemu.selection") == "property" and design.default_policy == "quirked"
                and design.facts.get("qemu.knows_section") is True):
            return design.id
    return None


def _changes(spec: Mapping[str, Any], target: Mapping[str, Any], keys: tuple[str, ...]
             ) -> dict[str, Any]:
    return {k: target[k] for k in keys if k in target and spec.get(k) != target[k]}


def chains(spec: Mapping[str, Any], target: Mapping[str, Any], fleet: FleetClasses,
           where: Location | None = None) -> list[Chain]:
    """Every way a block whose hosts run ``spec`` reaches ``target``, without repeats."""
    kernel, qemu = _changes(spec, target, KERNEL_KEYS), _changes(spec, target, QEMU_KEYS)
    parts: dict[str, dict[str, Any]] = {"kernel": kernel, "qemu": qemu,
                                        "kernel+qemu": {**kernel, **qemu}, "quiet": {}}
    out: list[Chain] = []
    seen: set[tuple] = set()  # chains by what they change: "together" may be "kernel"
    for name, kinds in CHAINS.items():
        steps = dict(parts)
        if "quiet" in kinds:
            park = park_design(fleet)
            host = fleet.host_class(spec, where or Location("--target")).host
            if not (park and kernel and host.facts.get("qemu.selection") == "automatic"):
                continue
            # Park the build while the kernel rolls, then return to the design the target
            # (or the host) runs.
            steps["quiet"] = {"seoib": park}
            steps["qemu"] = {**qemu, "seoib": target.get("seoib", host.design.id)}
        chain = tuple(Step(kind, tuple(steps[kind].items())) for kind in kinds if steps[kind])
        key = tuple(step.change for step in chain)
        if chain and key not in seen:
            seen.add(key)
            out.append(Chain(name, chain))
    return out
