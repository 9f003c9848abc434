"""A small reader for the `hosts` and `vms` of a fleet plan (DESIGN.md "Fleet plans").

`seoib designs` only needs who runs where. The full plan reader (rollout
waves, findings per plan line) lives elsewhere; this one reads the same
format, ignores `rollout`, and reports bad input with file:line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Location, SpecError
from ..paths import builtin_fleets_dir
from ..specs import HostSpec, VMSpec, parse_host_spec, parse_vm_spec
from ..yamlio import LineDict, line_of, load_yaml

__all__ = ["Fleet", "FleetHost", "FleetVM", "default_fleet_path", "load_fleet"]

TOP_KEYS = ("name", "description", "hosts", "vms", "rollout")


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


def _where(source: str, node: Any, key: Any = None) -> Location:
    return Location(source, line_of(node, key))


def _count(entry: Mapping[str, Any], where: Location, grouped: bool) -> int:
    count = entry.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise SpecError(f"count must be a positive whole number, not {count!r}", where)
    if "count" in entry and not grouped:
        raise SpecError("count is for groups (use group: <name> with count:)", where)
    return count


def _name(entry: Mapping[str, Any], where: Location, what: str) -> tuple[str, bool]:
    if ("name" in entry) == ("group" in entry):
        raise SpecError(f"each {what} entry needs exactly one of name: or group:", where)
    grouped = "group" in entry
    name = entry["group" if grouped else "name"]
    if not isinstance(name, str | int | float) or isinstance(name, bool) or not str(name):
        raise SpecError(f"{what} name must be a plain value", where)
    return str(name), grouped


def _entries(doc: Mapping[str, Any], key: str, source: str) -> list[Any]:
    items = doc.get(key)
    if not isinstance(items, list) or not items:
        raise SpecError(f"{key}: must be a non-empty list", _where(source, doc, key))
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise SpecError(f"{key}[{i}] must be a mapping", _where(source, items, i))
    return items


def _hosts(doc: Mapping[str, Any], source: str) -> list[FleetHost]:
    out: list[FleetHost] = []
    seen: set[str] = set()
    for entry in _entries(doc, "hosts", source):
        where = _where(source, entry)
        name, grouped = _name(entry, where, "host")
        if name in seen:
            raise SpecError(f"host {name!r} is declared twice", where)
        seen.add(name)
        count = _count(entry, where, grouped)
        rest = LineDict({k: v for k, v in entry.items() if k not in ("name", "group", "count")})
        if isinstance(entry, LineDict):
            rest.line, rest.key_lines = entry.line, entry.key_lines
        spec = parse_host_spec(rest, where)
        out.append(FleetHost(name, count, spec, spec.seoib is not None))
    return out


def _place(names: list[str], count: int, hosts: dict[str, FleetHost],
           where: Location) -> tuple[tuple[str, int], ...]:
    """Spread ``count`` VMs over the named host entries in proportion to their size."""
    for n in names:
        if n not in hosts:
            raise SpecError(f"no host or host group named {n!r}", where)
    total = sum(hosts[n].count for n in names)
    shares = [count * hosts[n].count // total for n in names]
    for i in range(count - sum(shares)):
        shares[i % len(shares)] += 1
    return tuple((n, s) for n, s in zip(names, shares, strict=True) if s)


def _vms(doc: Mapping[str, Any], source: str, hosts: dict[str, FleetHost]) -> list[FleetVM]:
    out: list[FleetVM] = []
    seen: set[str] = set()
    for entry in _entries(doc, "vms", source):
        where = _where(source, entry)
        name, grouped = _name(entry, where, "VM")
        if name in seen:
            raise SpecError(f"VM {name!r} is declared twice", where)
        seen.add(name)
        count = _count(entry, where, grouped)
        if ("host" in entry) == ("hosts" in entry):
            raise SpecError("each VM entry needs exactly one of host: or hosts:", where)
        target = entry.get("host", entry.get("hosts"))
        names = [str(t) for t in target] if isinstance(target, list) else [str(target)]
        rest = LineDict({k: v for k, v in entry.items()
                         if k not in ("name", "group", "count", "host", "hosts")})
        if isinstance(entry, LineDict):
            rest.line, rest.key_lines = entry.line, entry.key_lines
        spec = parse_vm_spec(rest, where)
        out.append(FleetVM(name, count, spec, _place(names, count, hosts, where)))
    return out


def load_fleet(path: str | Path) -> Fleet:
    source = str(path)
    if not Path(path).is_file():
        raise SpecError("no such fleet plan file", Location(source))
    doc = load_yaml(path)
    if not isinstance(doc, Mapping):
        raise SpecError("a fleet plan is a mapping with hosts: and vms:", Location(source))
    for key in doc:
        if key not in TOP_KEYS:
            raise SpecError(f"unknown top-level key {key!r} (known: {', '.join(TOP_KEYS)})",
                            _where(source, doc, key))
    hosts = _hosts(doc, source)
    by_name = {h.name: h for h in hosts}
    return Fleet(source, tuple(hosts), tuple(_vms(doc, source, by_name)))
