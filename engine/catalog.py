"""QEMU releases, machine types, SEOIB designs and guest profiles from rule data."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import Location, RuleError, SpecError
from .model import Citation, Design, Family, Guest, MachineCompat, QemuRelease
from .versions import Release, parse_release

if TYPE_CHECKING:  # yaml stays unimported on the cached query path
    from .yamlio import LineDict

__all__ = ["Machine", "MachineCatalog", "QemuCatalog", "load_designs", "load_guests"]

Problem = tuple[Location | None, str]


def _rel(text: str | None) -> Release | None:
    return parse_release(text) if text is not None else None


@dataclass(frozen=True)
class Machine:
    """A concrete machine type: family plus version (None for unversioned types)."""

    name: str
    family: Family
    version: Release | None


class MachineCatalog:
    def __init__(self, doc: LineDict, source: str) -> None:
        problems: list[Problem] = []
        self.source = source
        self.families: dict[str, Family] = {}
        for i, f in enumerate(doc["families"]):
            loc = Location(source, doc["families"].line_of(i))
            self.families[f["id"]] = Family(f["id"], f["versioned"], f.get("alias"),
                                            dict(f["defaults"]), f["source"], loc)
        self.aliases = {f.alias: f for f in self.families.values() if f.alias}
        # version text -> families it exists for (None: every versioned family)
        self.versions: dict[tuple[int, ...], tuple[str, ...] | None] = {}
        for entry in doc["versions"]:
            text, fams = (entry, None) if isinstance(entry, str) else (entry["version"],
                                                                        tuple(entry["families"]))
            rel = parse_release(text)
            assert rel is not None
            self.versions[rel.parts] = fams
        self.compat: list[MachineCompat] = []
        for i, c in enumerate(doc.get("compat", [])):
            loc = Location(source, doc["compat"].line_of(i))
            for fam in c["families"]:
                if fam not in self.families:
                    problems.append((loc, f"{c['id']}: unknown machine family {fam!r}"))
            self.compat.append(MachineCompat(c["id"], tuple(c["families"]), _rel(c.get("min")),
                                             _rel(c.get("max")), dict(c["set"]), c["description"],
                                             c["source"], loc, bool(c.get("confirmed", True))))
        problems += self._overlaps()
        if problems:
            raise RuleError.from_problems(problems)
        self._pattern = re.compile(
            r"^(" + "|".join(re.escape(f) for f in sorted(self.families, key=len, reverse=True))
            + r")(?:-(\d+\.\d+(?:\.\d+)?))?$")

    def _overlaps(self) -> list[Problem]:
        """Two compat rules setting one key differently must not cover the same version."""
        out: list[Problem] = []
        for i, a in enumerate(self.compat):
            for b in self.compat[i + 1:]:
                keys = [k for k in a.set if k in b.set and a.set[k] != b.set[k]]
                fams = set(a.families) & set(b.families)
                if not keys or not fams:
                    continue
                lo = max((r.parts for r in (a.min, b.min) if r), default=(0,))
                hi = min((r.parts for r in (a.max, b.max) if r), default=(10**9,))
                if lo <= hi:
                    out.append((b.location, f"compat rules {a.id} ({a.location}) and {b.id} set "
                                f"{keys[0]} differently for the same machine types"))
        return out

    def parse(self, name: str, where: Location | None = None) -> Machine:
        """A concrete machine type name -> Machine; SpecError when the rules do not know it."""
        match = self._pattern.match(name)
        if not match:
            known = ", ".join(sorted(self.families))
            raise SpecError(f"unknown machine type {name!r} (families: {known}; aliases: "
                            f"{', '.join(sorted(self.aliases))})", where)
        family = self.families[match.group(1)]
        version = _rel(match.group(2))
        if family.versioned != (version is not None):
            form = f"{family.id}-X.Y" if family.versioned else family.id
            raise SpecError(f"unknown machine type {name!r} (expected {form})", where)
        if version is not None:
            fams = self.versions.get(version.parts, ())
            if fams == () or (fams is not None and family.id not in fams):
                raise SpecError(f"unknown machine type {name!r}: no {family.id} type has version "
                                f"{version} (declare it under versions: in {self.source})", where)
        return Machine(name, family, version)

    def defaults(self, machine: Machine) -> tuple[dict[str, str], list[Citation]]:
        """Compat-resolved irqchip and ioapic for a machine type, with the rules applied."""
        values = dict(machine.family.defaults)
        because = []
        for c in self.compat:
            if c.applies(machine.family.id, machine.version):
                values.update(c.set)
                because.append(c.citation())
        return values, because


class QemuCatalog:
    def __init__(self, doc: LineDict, source: str, machines: MachineCatalog,
                 designs: dict[str, Design]) -> None:
        problems: list[Problem] = []
        self.source = source
        self.machines = machines
        self.releases: dict[tuple[int, int], QemuRelease] = {}
        self.builds: dict[str, QemuRelease] = {}

        def make(entry: LineDict, i: int, key: str, base: QemuRelease | None) -> QemuRelease:
            loc = Location(source, doc[key].line_of(i))
            m = entry.get("machines")
            seoib = entry.get("seoib", base.seoib if base else None)
            if seoib is not None and seoib not in designs:
                problems.append((loc, f"{entry['id']}: unknown SEOIB design {seoib!r}"))
            return QemuRelease(
                entry["id"], parse_release(entry["version"]) or Release((0, 0)),
                base.version if base else None,
                _rel(m["min"]) if m else (base.machines_min if base else None),
                _rel(m["max"]) if m else (base.machines_max if base else None),
                tuple(entry.get("unversioned", base.unversioned if base else ())),
                seoib, entry["description"], entry["source"], loc,
                bool(entry.get("confirmed", True)))

        for i, entry in enumerate(doc["releases"]):
            rel = make(entry, i, "releases", None)
            if rel.version.series in self.releases:
                problems.append((rel.location, f"QEMU {entry['version']} listed twice"))
            self.releases[rel.version.series] = rel
        for i, entry in enumerate(doc.get("builds", [])):
            base_rel = parse_release(entry["base"])
            base = self.releases.get(base_rel.series) if base_rel else None
            if base is None:
                problems.append((Location(source, doc["builds"].line_of(i)),
                                 f"{entry['id']}: base {entry['base']} is not a QEMU release"))
                continue
            self.builds[entry["version"]] = make(entry, i, "builds", base)
        if problems:
            raise RuleError.from_problems(problems)

    def resolve(self, text: str, where: Location | None = None) -> QemuRelease:
        build = self.builds.get(text)
        if build is not None:
            return build
        rel = parse_release(text)
        if rel is None or rel.suffix:
            raise SpecError(f"QEMU {text!r} is not a release the rules know; declare it under "
                            f"builds: in {self.source}", where)
        found = self.releases.get(rel.series)
        if found is None:
            known = ", ".join(str(r.version) for r in self.releases.values())
            raise SpecError(f"QEMU {text} is not in the rules (known: {known}); add it under "
                            f"releases: in {self.source}", where)
        return found

    def alias_target(self, qemu: QemuRelease, alias: str) -> str | None:
        family = self.machines.aliases.get(alias)
        if family is None or qemu.machines_max is None:
            return None
        return f"{family.id}-{qemu.machines_max}"

    def registers(self, qemu: QemuRelease, machine: Machine) -> bool:
        if machine.version is None:
            return machine.name in qemu.unversioned
        lo, hi = qemu.machines_min, qemu.machines_max
        return (lo is not None and hi is not None
                and lo.parts <= machine.version.parts <= hi.parts)


def _entries(doc: LineDict, key: str, source: str, known: dict[str, tuple], prefix: str,
             make: Callable[[LineDict, Location], Any]) -> dict[str, Any]:
    """Rule-data entries with `facts`, each checked against the declared input facts."""
    out: dict[str, Any] = {}
    problems: list[Problem] = []
    for i, entry in enumerate(doc[key]):
        loc = Location(source, doc[key].line_of(i))
        problems += _check_facts(entry["id"], entry["facts"], known, prefix, loc)
        out[entry["id"]] = make(entry, loc)
    if problems:
        raise RuleError.from_problems(problems)
    return out


def load_designs(doc: LineDict, source: str, known: dict[str, tuple]) -> dict[str, Design]:
    return _entries(doc, "designs", source, known, "qemu.", lambda d, loc: Design(
        d["id"], d["description"], dict(d["facts"]), d["source"], loc, _rel(d.get("gate")),
        d.get("default_policy", "quirked"), bool(d.get("confirmed", True))))


def load_guests(doc: LineDict, source: str, known: dict[str, tuple]) -> dict[str, Guest]:
    guests = _entries(doc, "guests", source, known, "guest.", lambda g, loc: Guest(
        g["id"], g["description"], dict(g["facts"]), g["source"], loc,
        bool(g.get("confirmed", True))))
    if "any" not in guests:
        raise RuleError("guest profile 'any' (the worst case) is required", Location(source))
    return guests


def _check_facts(owner: str, facts: dict, known: dict[str, tuple], prefix: str,
                 loc: Location) -> list[Problem]:
    out: list[Problem] = []
    for name, value in facts.items():
        if not name.startswith(prefix) or name not in known:
            out.append((loc, f"{owner}: {name!r} is not an input fact starting with {prefix}"))
        elif value not in known[name]:
            out.append((loc, f"{owner}: {name} cannot be {value!r} (values: {list(known[name])})"))
    expected = {n for n in known if n.startswith(prefix)} - set(facts)
    if expected:
        out.append((loc, f"{owner}: missing facts {sorted(expected)}"))
    return out
