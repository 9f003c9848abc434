"""Who runs where in a fleet plan, as `seoib designs` needs it.

The plan reader of `seoib check` does the parsing (one format, one set of
file:line errors); this view regroups VM groups spread over several host
entries and marks the hosts whose QEMU build carries SEOIB support.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import Location, SpecError
from ..paths import builtin_fleets_dir
from ..plan.planfile import VMEntry, load_plan
from ..rules.specs import HostSpec, VMSpec, parse_host_spec

__all__ = ["Fleet", "FleetHost", "FleetVM", "default_fleet_path", "load_fleet"]



@dataclass(frozen=True)
class FleetHost:
    name: str
    count: int
    spec: HostSpec
    candidate: bool  # names seoib=: its QEMU build carries SEOIB support (the compared design)


@dataclass(frozen=True)
class FleetVM:
    name: str
    count: int
    spec: VMSpec
    placement: tuple[tuple[str, int], ...]  # host entry name -> VMs placed on it


@dataclass(frozen=True)
class Fleet:
    source: str
    hosts: tuple[FleetHost, ...]
    vms: tuple[FleetVM, ...]

    def host(self, name: str) -> FleetHost:
        return next(h for h in self.hosts if h.name == name)


def default_fleet_path() -> Path:
    return builtin_fleets_dir() / "representative.yaml"


def load_fleet(path: str | Path) -> Fleet:
    """Read the hosts and VMs of a fleet plan (the `seoib check` format; rollout ignored)."""
    source = str(path)
    if not Path(path).is_file():
        raise SpecError("no such fleet plan file", Location(source))
    plan = load_plan(path)
    hosts = tuple(FleetHost(h.name, h.count, parse_host_spec(dict(h.spec), Location(source, h.line)),
                            "seoib" in h.spec) for h in plan.hosts)
    placements: dict[str, list[tuple[str, int]]] = {}
    first: dict[str, VMEntry] = {}
    for v in plan.vms:  # a group spread over several host entries arrives split
        placements.setdefault(v.name, []).append((v.host, v.count))
        first.setdefault(v.name, v)
    vms = tuple(FleetVM(name, sum(c for _, c in placed), first[name].spec, tuple(placed))
                for name, placed in placements.items())
    return Fleet(source, hosts, vms)
