"""Fleet plan files: hosts, VMs and rollout waves, each remembered with its line.

A plan is user input, so every problem (schema, duplicate or unknown names,
counts, specs the resolver rejects) is a SpecError naming ``file:line``. The
parsed plan keeps host and VM specs as plain mappings: a wave's ``set`` is
merged into them, and the result is parsed again as a host spec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import Location, SpecError
from ..files import MAX_INPUT_BYTES, read_limited
from ..paths import schemas_dir
from ..record import replace
from ..rules.loader import schema_problems
from ..rules.specs import VMSpec, parse_host_spec, parse_vm_spec
from ..vocabulary import HOST_SPEC_KEYS, VM_SPEC_KEYS
from ..yamlio import MAX_BYTES, LineDict, LineList, loads_yaml
from .bulk import paused_collector
from .flowlines import read_flow_lines

__all__ = ["HostEntry", "Plan", "VMEntry", "Wave", "apply_set", "load_plan", "loads_plan", "parse_plan"]

_VERSION_KEYS = ("kernel", "qemu")


@dataclass(frozen=True)
class HostEntry:
    """One host, or a group of ``count`` identical hosts."""

    name: str
    count: int
    is_group: bool
    spec: Mapping[str, Any]  # host-spec keys only, as written
    line: int
    capacity: int | None = None  # VMs per host; None: not modelled (a drain always fits)

    def describe(self) -> str:
        return f"{self.name} ({self.count} hosts)" if self.is_group else self.name


@dataclass(frozen=True)
class VMEntry:
    """One VM on a host, or a group of ``count`` VMs spread over a host entry."""

    name: str
    count: int
    is_group: bool
    host: str  # the host entry (single host or group) the VMs run on
    spec: VMSpec
    raw: Mapping[str, Any]
    line: int
    snapshots: bool = False  # restored from snapshots taken before a wave
    spread: tuple[str, ...] = ()  # every host entry the group is spread over, as written
    total: int = 0  # the group's count over all of them

    def describe(self) -> str:
        return f"{self.name} ({self.count} VMs)" if self.is_group else self.name


@dataclass(frozen=True)
class Wave:
    name: str
    hosts: tuple[str, ...]
    set: Mapping[str, Any]
    line: int
    host_lines: tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    source: str
    hosts: tuple[HostEntry, ...]
    vms: tuple[VMEntry, ...]
    rollout: tuple[Wave, ...]
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def host_index(self, name: str) -> int:
        return self._index[name]

    def as_data(self) -> dict[str, Any]:
        """Plain data that dumps back to an equivalent plan file."""
        hosts = [{("group" if h.is_group else "name"): h.name,
                  **({"count": h.count} if h.is_group else {}), **dict(h.spec),
                  **({"capacity": h.capacity} if h.capacity is not None else {})}
                 for h in self.hosts]
        vms = []
        seen: set[str] = set()
        for v in self.vms:
            if v.name in seen:
                continue  # a group spread over several host entries is written once
            seen.add(v.name)
            spread: Any = list(v.spread) if len(v.spread) > 1 else v.host
            head: dict[str, Any] = ({"group": v.name, "count": v.total or v.count, "hosts": spread}
                                    if v.is_group else {"name": v.name, "host": v.host})
            vms.append({**head, **{k: v.raw[k] for k in VM_SPEC_KEYS if k in v.raw},
                        **({"snapshots": True} if v.snapshots else {})})
        rollout = [{"name": w.name, "hosts": list(w.hosts), "set": dict(w.set)} for w in self.rollout]
        return {"hosts": hosts, "vms": vms, "rollout": rollout}


@cache
def _schema() -> dict[str, Any]:
    with (schemas_dir() / "plan.schema.json").open() as fh:
        return json.load(fh)


def _loc(source: str, node: Any, key: Any = None) -> Location:
    line = node.line_of(key) if key is not None and isinstance(node, LineDict | LineList) else None
    return Location(source, line or getattr(node, "line", None))


def _plain(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: mapping[k] for k in keys if k in mapping}


def _sub(node: LineDict, keys: tuple[str, ...]) -> LineDict:
    """The listed keys of ``node``, keeping its line numbers for spec errors."""
    out = LineDict(_plain(node, keys))
    out.line, out.key_lines = node.line, node.key_lines
    return out


def _check_versions(node: LineDict, source: str) -> None:
    for key in _VERSION_KEYS:
        value = node.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            # YAML reads 10.10 as 10.1: a silent misread is worse than a refusal.
            raise SpecError(f"{key} is written as a YAML number (read as {value!r}); quote release "
                            f"numbers, e.g. {key}: \"10.10\" (unquoted, YAML reads it as 10.1)",
                            _loc(source, node, key))


def _content(spec: Mapping[str, Any]) -> tuple:
    """A spec mapping as a hashable value, keys as written (a memo key: the same spec
    written in another key order is parsed once more, and agrees)."""
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in spec.items())


def _check_host_spec(spec: Mapping[str, Any], source: str, line: int, valid: set[tuple],
                     key: tuple | None = None) -> tuple:
    """Parse ``spec`` to report a bad one at ``source:line``; a content already parsed fine
    is fine again (thousands of hosts written one by one share a few specs). Returns the
    content's key."""
    if key is None:
        key = _content(spec)
    if key not in valid:
        parse_host_spec(spec, Location(source, line))
        valid.add(key)
    return key


def _vm_spec(raw: LineDict, where: Location, parsed: dict[tuple, VMSpec], label: str) -> VMSpec:
    """``raw`` parsed as a VM spec, once per content; named ``label``, written at ``where``."""
    key = _content(raw)
    hit = parsed.get(key)
    if hit is None:
        hit = parsed[key] = parse_vm_spec(raw, where)
    return replace(hit, name=label, origin=where)


def apply_set(spec: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A host spec after a wave's ``set``: listed keys replace, others stay.

    A probed x2apic-api mask describes the old kernel and a probed machine list
    the old QEMU, so setting kernel (or qemu) drops them unless set again.
    """
    out = dict(spec)
    if "kernel" in changes and "x2apic-api" not in changes:
        out.pop("x2apic-api", None)
    if "qemu" in changes and "machines" not in changes:
        out.pop("machines", None)
    out.update(changes)
    return out


def _hosts(doc: LineDict, source: str) -> tuple[list[HostEntry], dict[str, int], list[tuple]]:
    """The host entries, their index by name, and each one's spec content (a memo key)."""
    entries: list[HostEntry] = []
    index: dict[str, int] = {}
    contents: list[tuple] = []
    valid: set[tuple] = set()
    for i, node in enumerate(doc["hosts"]):
        name, group = node.get("name"), node.get("group")
        if (name is None) == (group is None):
            raise SpecError("a host entry needs exactly one of name (one host) or group "
                            "(with count)", _loc(source, doc["hosts"], i))
        if name is not None and "count" in node:
            raise SpecError("count belongs to a host group; use group: instead of name:",
                            _loc(source, node, "count"))
        if group is not None and "count" not in node:
            raise SpecError(f"host group {group!r} needs a count", _loc(source, doc["hosts"], i))
        label = str(name if name is not None else group)
        if label in index:
            first = entries[index[label]].line
            raise SpecError(f"duplicate host name {label!r} (first at line {first})",
                            _loc(source, node, "name" if name is not None else "group"))
        _check_versions(node, source)
        spec = _sub(node, HOST_SPEC_KEYS)
        # Parse now so a bad spec is reported at its own line, not at first use.
        contents.append(_check_host_spec(spec, source, node.line, valid))
        index[label] = len(entries)
        capacity = node.get("capacity")
        entries.append(HostEntry(label, int(node.get("count", 1)), group is not None, spec,
                                 node.line, None if capacity is None else int(capacity)))
    return entries, index, contents


def _vms(doc: LineDict, source: str, index: dict[str, int],
         hosts: list[HostEntry]) -> list[VMEntry]:
    entries: list[VMEntry] = []
    seen: dict[str, int] = {}
    parsed: dict[tuple, VMSpec] = {}  # a plan written host by host repeats a few VM specs
    sizes = {h.name: h.count for h in hosts}  # built once: a host-by-host plan has many entries
    for i, node in enumerate(doc.get("vms") or []):
        name, group = node.get("name"), node.get("group")
        if (name is None) == (group is None):
            raise SpecError("a VM entry needs exactly one of name (one VM, with host) or group "
                            "(with count and hosts)", _loc(source, doc["vms"], i))
        if name is not None and ("count" in node or "hosts" in node):
            key = "count" if "count" in node else "hosts"
            raise SpecError(f"{key} belongs to a VM group; a single VM names its host with host:",
                            _loc(source, node, key))
        if group is not None and ("count" not in node or "hosts" not in node or "host" in node):
            raise SpecError(f"VM group {group!r} needs count and hosts (the host group it is "
                            "spread over), not host", _loc(source, doc["vms"], i))
        label = str(name if name is not None else group)
        if label in seen:
            raise SpecError(f"duplicate VM name {label!r} (first at line {seen[label]})",
                            _loc(source, node, "name" if name is not None else "group"))
        seen[label] = node.line
        host_key = "host" if name is not None else "hosts"
        if host_key not in node:
            raise SpecError(f"VM {label!r} needs {host_key}: (the host it runs on)",
                            _loc(source, doc["vms"], i))
        target = node[host_key]
        names = [str(t) for t in target] if isinstance(target, list) else [str(target)]
        for host in names:
            if host not in index:
                raise SpecError(f"{host_key}: {host!r} is not a host or host group of this plan "
                                f"(known: {', '.join(index) or 'none'})",
                                _loc(source, node, host_key))
        raw = _sub(node, VM_SPEC_KEYS)
        spec = _vm_spec(raw, Location(source, node.line), parsed, label)
        total = int(node.get("count", 1))
        shares = [(names[0], total)] if len(names) == 1 else spread(total, names, hosts, sizes)
        for host, count in shares:
            entries.append(VMEntry(label, count, group is not None, host, spec, raw, node.line,
                                   bool(node.get("snapshots", False)), tuple(names), total))
    return entries


def spread(count: int, names: list[str], hosts: list[HostEntry],
           sizes: Mapping[str, int] | None = None) -> list[tuple[str, int]]:
    """Spread ``count`` VMs over host entries in proportion to their host counts.

    ``sizes`` (host entry name -> host count) may be passed in when many entries are
    spread over the same hosts, so each call costs its own names, not every host.
    """
    if sizes is None:
        sizes = {h.name: h.count for h in hosts}
    total = sum(sizes[n] for n in names)
    shares = [count * sizes[n] // total for n in names]
    for i in range(count - sum(shares)):
        shares[i % len(shares)] += 1
    return [(n, s) for n, s in zip(names, shares, strict=True) if s]


def _rollout(doc: LineDict, source: str, hosts: list[HostEntry],
             index: dict[str, int], contents: list[tuple]) -> list[Wave]:
    waves: list[Wave] = []
    seen: dict[str, int] = {}
    valid: set[tuple] = set()
    for node in doc.get("rollout") or []:
        name = str(node["name"])
        if name in seen:
            raise SpecError(f"duplicate wave name {name!r} (first at line {seen[name]})",
                            _loc(source, node, "name"))
        seen[name] = node.line
        names = node["hosts"]
        in_wave: set[str] = set()
        for j, ref in enumerate(names):
            if ref not in index:
                raise SpecError(f"wave {name!r}: {ref!r} is not a host or host group of this plan",
                                _loc(source, names, j))
            if ref in in_wave:
                raise SpecError(f"wave {name!r} lists {ref!r} twice", _loc(source, names, j))
            in_wave.add(ref)
        _check_versions(node["set"], source)
        changes = dict(node["set"])
        done: set[tuple] = set()  # host specs of this wave already upgraded and checked
        for ref in names:  # the upgraded spec must be a valid host spec
            before = contents[index[ref]]
            if before in done:
                continue
            done.add(before)
            after = LineDict(apply_set(hosts[index[ref]].spec, changes))
            after.line, after.key_lines = node["set"].line, node["set"].key_lines
            _check_host_spec(after, source, node["set"].line, valid)
        waves.append(Wave(name, tuple(str(n) for n in names), changes, node.line,
                          tuple(names.line_of(j) for j in range(len(names)))))
    return waves


_UNEXPECTED = re.compile(r"^(?:(?P<path>[^:]*): )?Additional properties .*\('(?P<key>[^']+)'")


def _key_line(doc: LineDict, where: Location, message: str) -> tuple[Location, str]:
    """Point an unknown-key error at the key's own line, not at its mapping's."""
    m = _UNEXPECTED.match(message)
    if not m:
        return where, message
    node: Any = doc
    for part in (m["path"] or "").split("/") if m["path"] else ():
        node = node[int(part)] if isinstance(node, list) else node.get(part)
    if isinstance(node, LineDict):
        return Location(where.source, node.line_of(m["key"])), message
    return where, message


_NAME_KEYS = frozenset({"name", "group", "host", "hosts"})
_SECTION = re.compile(r"^(hosts|vms|rollout)/(\d+)(?:/(name|group|host|hosts)/(\d+))?")


def _shape(key: Any, value: Any) -> Any:
    """What the plan schema reads of a value: names by their type and emptiness only (they
    differ on every line of a plan written host by host), everything else as it is."""
    if type(value) is dict or type(value) is LineDict:
        # An entry: its scalars inline (the common case), collections through recursion.
        return ("map", tuple(
            (k, (v.__class__, bool(v) if type(v) is str else v) if k in _NAME_KEYS
             and not isinstance(v, list | dict) else (v.__class__, v)
             if not isinstance(v, list | dict) else _shape(k, v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        items = frozenset(_shape(key, v) for v in value) if key in _NAME_KEYS else tuple(
            _shape(key, v) for v in value)
        return ("list", len(value) > 0, items)
    if isinstance(value, dict):  # keys as written: another order is one more shape, no harm
        return ("map", tuple((k, _shape(k, v)) for k, v in value.items()))
    if key in _NAME_KEYS:
        return (type(value).__name__, bool(value) if isinstance(value, str) else value)
    return (type(value).__name__, value)


def _representatives(doc: LineDict) -> tuple[LineDict, dict[str, list[int]],
                                             dict[tuple[str, int, str], list[int]]]:
    """The plan with one entry per distinct shape in each section (and, in a long list of
    names, one name per shape), and where each kept entry and name was: entries of one
    shape pass or fail the schema alike, so a fleet written host by host is checked in
    the time of its few shapes."""
    reduced = LineDict(doc)
    reduced.line, reduced.key_lines = doc.line, doc.key_lines
    back: dict[str, list[int]] = {}
    inner: dict[tuple[str, int, str], list[int]] = {}
    for section in ("hosts", "vms", "rollout"):
        items = doc.get(section)
        if not isinstance(items, LineList):
            continue
        seen: set[Any] = set()
        kept = LineList()
        kept.line, kept.item_lines, back[section] = items.line, [], []
        for i, item in enumerate(items):
            shape = _shape(None, item)
            if shape in seen:
                continue
            seen.add(shape)
            if isinstance(item, LineDict):
                item = _shorten(item, section, len(kept), inner)
            kept.append(item)
            kept.item_lines.append(items.line_of(i))
            back[section].append(i)
        reduced[section] = kept
    return reduced, back, inner


def _shorten(item: LineDict, section: str, at: int,
             inner: dict[tuple[str, int, str], list[int]]) -> LineDict:
    """``item`` with each long list of names cut to one name per shape."""
    out = item
    for key in _NAME_KEYS:
        names = item.get(key)
        if not isinstance(names, LineList) or len(names) <= 8:
            continue
        if out is item:
            out = LineDict(item)
            out.line, out.key_lines = item.line, item.key_lines
        short = LineList()
        short.line, short.item_lines = names.line, []
        seen: set[Any] = set()
        inner[(section, at, key)] = []
        for j, name in enumerate(names):
            shape = _shape(key, name)
            if shape not in seen:
                seen.add(shape)
                short.append(name)
                short.item_lines.append(names.line_of(j))
                inner[(section, at, key)].append(j)
        out[key] = short
    return out


def _problems(doc: LineDict, source: str) -> list[tuple[Location, str]]:
    reduced, back, inner = _representatives(doc)

    def original(m: re.Match[str]) -> str:
        section, at = m[1], int(m[2])
        path = f"{section}/{back[section][at]}"
        if m[3] is not None:
            names = inner.get((section, at, m[3]))
            path += f"/{m[3]}/{names[int(m[4])] if names else m[4]}"
        return path

    return [(where, _SECTION.sub(original, message))
            for where, message in schema_problems(reduced, _schema(), source)]


def parse_plan(doc: Any, source: str) -> Plan:
    """Check a loaded plan document; SpecError with file:line on the first problem."""
    if not isinstance(doc, LineDict):
        raise SpecError("a plan is a mapping with hosts, vms and rollout",
                        Location(source, getattr(doc, "line", 1)))
    problems = _problems(doc, source)
    if problems:
        where, message = _key_line(doc, *problems[0])
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SpecError(message + more, where)
    hosts, index, contents = _hosts(doc, source)
    vms = _vms(doc, source, index, hosts)
    rollout = _rollout(doc, source, hosts, index, contents)
    return Plan(source, tuple(hosts), tuple(vms), tuple(rollout), index)


def _read(raw: str | bytes, source: str) -> Any:
    """A plan document: written one entry per line, read fast; else by the full loader,
    which also gives every refusal its message."""
    text = raw
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if isinstance(text, str) and len(raw) <= MAX_INPUT_BYTES.value(MAX_BYTES):
        doc = read_flow_lines(text.removeprefix("\ufeff"))
        if doc is not None:
            return doc
    return loads_yaml(raw, source)


def load_plan(path: str | Path) -> Plan:
    with paused_collector():
        return parse_plan(_read(read_limited(path, MAX_BYTES), str(path)), str(path))


def loads_plan(text: str, source: str = "<plan>") -> Plan:
    with paused_collector():
        return parse_plan(_read(text, source), source)
