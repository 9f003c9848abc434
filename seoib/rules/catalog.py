"""QEMU releases, machine types, SEOIB designs and guest profiles from rule data.

Beyond the listed data, two kinds of names resolve by rule rather than by entry:
a QEMU release newer than the newest listed is inferred from it (its own X.Y
machine types, the deletion window of `inference:`, the newest release's SEOIB
design), and a downstream machine type (RHEL, Ubuntu, Proxmox ``+pveN``) resolves
to the upstream type whose compat it follows. Both are marked so that verdicts
can say they rest on inference.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import Location, RuleError, SpecError
from ..record import record, replace
from .assumptions import switched
from .language import (
    Assumption,
    Citation,
    Design,
    Family,
    GuestProfile,
    MachineCompat,
    QemuRelease,
    StreamCommand,
)
from .overlay import item_location
from .patterns import compile_name_pattern
from .versions import Release, parse_release

if TYPE_CHECKING:  # yaml stays unimported on the cached query path
    from ..yamlio import LineDict
    from .lazypattern import LazyPattern

__all__ = [
    "Downstream",
    "MachineCatalog",
    "MachineType",
    "QemuCatalog",
    "load_designs",
    "load_guests",
]

Problem = tuple[Location | None, str]


def _rel(text: str | None) -> Release | None:
    return parse_release(text) if text is not None else None


@record
class Downstream:
    """A vendor's machine-type scheme and the upstream types its names follow."""

    id: str
    description: str
    source: str
    location: Location
    confirmed: bool
    types: dict[str, str]
    pattern: re.Pattern[str] | LazyPattern | None  # LazyPattern when read from the rules cache

    def upstream_of(self, name: str) -> str | None:
        if name in self.types:
            return self.types[name]
        match = self.pattern.match(name) if self.pattern is not None else None
        return match.group("upstream") if match else None

    def citation(self) -> Citation:
        cited: Citation | None = self.__dict__.get("_citation")  # one per downstream type
        if cited is None:
            cited = self.__dict__["_citation"] = Citation(f"machine.downstream.{self.id}",
                                                          self.description, self.source,
                                                          self.location, self.confirmed)
        return cited


@record
class MachineType:
    """A concrete machine type: family plus version (None for unversioned types).

    A downstream type keeps its own ``name`` and carries the family and version of
    the upstream type it follows (``follows``); ``inferred`` marks a version newer
    than every version the rules list.
    """

    name: str
    family: Family
    version: Release | None
    follows: str | None = None
    downstream: Downstream | None = None
    inferred: bool = False


class MachineCatalog:
    def __init__(self, doc: LineDict, source: str) -> None:
        problems: list[Problem] = []
        self.source = source
        self.all_families: dict[str, Family] = {}
        for i, f in enumerate(doc["families"]):
            loc = item_location(doc["families"], i, source)
            self.all_families[f["id"]] = Family(f["id"], f["versioned"], f.get("alias"),
                                            dict(f["defaults"]), f["source"], loc,
                                            f.get("apic", True))
        self.bounds: dict[str, tuple[Release | None, Release | None]] = {
            f["id"]: (_rel(f.get("min")), _rel(f.get("max"))) for f in doc["families"]}
        # family id -> how many IOAPICs its board creates (the guest sees them)
        self.ioapics: dict[str, int] = {f["id"]: int(f.get("ioapics", 1)) for f in doc["families"]}
        # family id -> the dynamic sysbus devices its board takes on -device (intel-iommu)
        self.sysbus_devices: dict[str, tuple[str, ...]] = {
            f["id"]: tuple(f.get("sysbus_devices", ())) for f in doc["families"]}
        # family id -> (note, confirmed): said on every verdict for that family
        self.notes: dict[str, tuple[str, bool]] = {
            f["id"]: (" ".join(f["note"].split()), bool(f.get("confirmed", True)))
            for f in doc["families"] if f.get("note")}
        self.alias_families: dict[str, list[Family]] = {}
        for f in self.all_families.values():
            if f.alias:
                self.alias_families.setdefault(f.alias, []).append(f)
        self.aliases = {a: fams[0] for a, fams in self.alias_families.items()}
        # The families the default class space enumerates (`class_space: false` opts out).
        self.families = {f["id"]: self.all_families[f["id"]] for f in doc["families"]
                         if f.get("class_space", True)}
        # version -> the versioned families that carry it (their min/max applied)
        self.versions: dict[tuple[int, ...], tuple[str, ...] | None] = {}
        versioned = [f.id for f in self.all_families.values() if f.versioned]
        for entry in doc["versions"]:
            text, fams = (entry, versioned) if isinstance(entry, str) else (entry["version"],
                                                                             entry["families"])
            rel = parse_release(text)
            assert rel is not None
            self.versions[rel.parts] = tuple(f for f in fams if self._within(f, rel))

        self.compat: list[MachineCompat] = []
        for i, c in enumerate(doc.get("compat", [])):
            loc = item_location(doc["compat"], i, source)
            for fam in c["families"]:
                if fam not in self.all_families:
                    problems.append((loc, f"{c['id']}: unknown machine family {fam!r}"))
            self.compat.append(MachineCompat(c["id"], tuple(c["families"]), _rel(c.get("min")),
                                             _rel(c.get("max")), dict(c["set"]), c["description"],
                                             c["source"], loc, bool(c.get("confirmed", True))))
        problems += self._overlaps()
        self.downstream = self._downstream(doc, source, problems)
        if problems:
            raise RuleError.from_problems(problems)
        self._pattern = re.compile(
            r"^(" + "|".join(re.escape(f) for f in sorted(self.all_families, key=len, reverse=True))
            + r")(?:-(\d+\.\d+(?:\.\d+)?))?$")
        self.newest = max(self.versions) if self.versions else (0,)
        problems += self._check_downstream()
        if problems:
            raise RuleError.from_problems(problems)

    def _within(self, family: str, version: Release) -> bool:
        lo, hi = self.bounds.get(family, (None, None))
        return not ((lo is not None and version.parts < lo.parts)
                    or (hi is not None and version.parts > hi.parts))

    def _downstream(self, doc: LineDict, source: str, problems: list[Problem]) -> list[Downstream]:
        out = []
        for i, d in enumerate(doc.get("downstream", [])):
            loc = item_location(doc["downstream"], i, source)
            pattern = None
            if "pattern" in d:
                try:  # matched against every machine name a query gives: linear time only
                    pattern = compile_name_pattern(d["pattern"])
                except ValueError as exc:
                    problems.append((loc, f"{d['id']}: pattern is refused: {exc}"))
                    continue
                if "upstream" not in pattern.groupindex:
                    problems.append((loc, f"{d['id']}: pattern needs a group named 'upstream'"))
                    continue
            out.append(Downstream(d["id"], d["description"], d["source"], loc,
                                  bool(d.get("confirmed", True)), dict(d.get("types", {})),
                                  pattern))
        return out

    def _check_downstream(self) -> list[Problem]:
        """Every listed downstream type must follow an upstream type the rules know."""
        out: list[Problem] = []
        for d in self.downstream:
            for name, upstream in d.types.items():
                try:
                    self._parse_upstream(upstream, None)
                except SpecError as exc:
                    out.append((d.location, f"{d.id}: {name} follows {upstream!r}: {exc.message}"))
        return out

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

    def parse(self, name: str, where: Location | None = None) -> MachineType:
        """A concrete machine type name -> MachineType; SpecError when the rules do not know it."""
        for d in self.downstream:
            upstream = d.upstream_of(name)
            if upstream is not None:
                up = self._parse_upstream(upstream, where)
                return MachineType(name, up.family, up.version, up.name, d, up.inferred)
        return self._parse_upstream(name, where)

    def _parse_upstream(self, name: str, where: Location | None) -> MachineType:
        match = self._pattern.match(name)
        if not match:
            known = ", ".join(sorted(self.all_families))
            raise SpecError(f"unknown machine type {name!r} (families: {known}; aliases: "
                            f"{', '.join(sorted(self.aliases))}; a downstream type is declared "
                            f"under downstream: in a machines.yaml of a rule overlay)", where)
        family = self.all_families[match.group(1)]
        version = _rel(match.group(2))
        if family.versioned != (version is not None):
            form = f"{family.id}-X.Y" if family.versioned else family.id
            raise SpecError(f"unknown machine type {name!r} (expected {form})", where)
        inferred = False
        if version is not None:
            fams = self.versions.get(version.parts)
            # A feature-release version past every listed one belongs to a newer QEMU.
            inferred = fams is None and len(version.parts) == 2 and version.parts > self.newest
            if not self._within(family.id, version) or (
                    not inferred and family.id not in (fams or ())):
                raise SpecError(f"unknown machine type {name!r}: no {family.id} type has version "
                                f"{version} (a rule overlay can declare it under versions:)",
                                where)
        return MachineType(name, family, version, inferred=inferred)

    def defaults(self, machine: MachineType) -> tuple[dict[str, str], list[Citation]]:
        """Compat-resolved irqchip and ioapic for a machine type, with the rules applied."""
        values = dict(machine.family.defaults)
        because = []
        for c in self.compat:
            if c.applies(machine.family.id, machine.version):
                values.update(c.set)
                because.append(c.citation())
        return values, because


class QemuCatalog:
    """QEMU releases and builds, what each registers, and releases inferred past the newest.

    ``releases`` are the ones the default class space covers (``class_space.releases``,
    or every one from ``class_space.min`` on); ``history`` holds the others, which
    resolve the same way but add no classes.
    """

    def __init__(self, doc: LineDict, source: str, machines: MachineCatalog,
                 designs: dict[str, Design]) -> None:
        problems: list[Problem] = []
        self.source = source
        self.machines = machines
        self.releases: dict[tuple[int, int], QemuRelease] = {}
        self.builds: dict[str, QemuRelease] = {}
        # release/build id -> family -> (min, max): a family's narrower registered range
        self.family_ranges: dict[str, dict[str, tuple[Release | None, Release | None]]] = {}

        def make(entry: LineDict, i: int, key: str, base: QemuRelease | None) -> QemuRelease:
            loc = item_location(doc[key], i, source)
            m = entry.get("machines")
            seoib = entry.get("seoib", base.seoib if base else None)
            if seoib is not None and seoib not in designs:
                problems.append((loc, f"{entry['id']}: unknown SEOIB design {seoib!r}"))
            ranges = (self.family_ranges.get(base.id, {}) if base and not m else
                      {fam: (_rel(r.get("min")), _rel(r.get("max")))
                       for fam, r in (m or {}).get("families", {}).items()})
            for fam in ranges:
                if fam not in machines.all_families:
                    problems.append((loc, f"{entry['id']}: unknown machine family {fam!r}"))
            self.family_ranges[entry["id"]] = ranges
            return QemuRelease(
                entry["id"], parse_release(entry["version"]) or Release((0, 0)),
                base.version if base else None,
                _rel(m["min"]) if m else (base.machines_min if base else None),
                _rel(m["max"]) if m else (base.machines_max if base else None),
                tuple(entry.get("unversioned", base.unversioned if base else ())),
                seoib, entry["description"], entry["source"], loc,
                bool(entry.get("confirmed", True)))

        # Releases outside the class space are judged on request but add no classes.
        space = doc.get("class_space") or {}
        scope = _rel(space.get("min"))
        chosen = {r.series for r in map(parse_release, space.get("releases", ())) if r is not None}
        self.history: dict[tuple[int, int], QemuRelease] = {}
        for i, entry in enumerate(doc["releases"]):
            rel = make(entry, i, "releases", None)
            if rel.version.series in self.releases or rel.version.series in self.history:
                problems.append((rel.location, f"QEMU {entry['version']} listed twice"))
            outside = (rel.version.series not in chosen if chosen
                       else scope is not None and rel.version.parts < scope.parts)
            (self.history if outside else self.releases)[rel.version.series] = rel
        missing = sorted(chosen - set(self.releases))
        if missing:
            problems.append((Location(source), "class_space.releases names releases that are not "
                             f"listed: {', '.join('.'.join(map(str, m)) for m in missing)}"))
        if not self.releases:
            problems.append((Location(source), "the class space holds no release"))
        for i, entry in enumerate(doc.get("builds", [])):
            base_rel = parse_release(entry["base"])
            base = (self.releases.get(base_rel.series) or self.history.get(base_rel.series)
                    if base_rel else None)
            if base is None:
                problems.append((item_location(doc["builds"], i, source),
                                 f"{entry['id']}: base {entry['base']} is not a QEMU release"))
                continue
            self.builds[entry["version"]] = make(entry, i, "builds", base)
        if problems:
            raise RuleError.from_problems(problems)
        self.stream_commands = tuple(_stream_command(entry, item_location(doc["stream_commands"], i,
                                                                          source))
                                     for i, entry in enumerate(doc.get("stream_commands", ())))
        inference = doc.get("inference")
        self.deletion_major: int | None = inference["deletion_major"] if inference else None
        self.inference_source = inference["source"] if inference else ""
        self.inferred: dict[tuple[int, int], QemuRelease] = {}

    @property
    def newest(self) -> QemuRelease:
        """The newest release listed (class space or not): inference starts after it."""
        return max([*self.releases.values(), *self.history.values()], key=lambda r: r.version.parts)

    def is_inferred(self, qemu: QemuRelease) -> bool:
        return self.inferred.get(qemu.version.series) is qemu

    def resolve(self, text: str, where: Location | None = None) -> QemuRelease:
        build = self.builds.get(text)
        if build is not None:
            return build
        rel = parse_release(text)
        if rel is None or rel.suffix:
            raise SpecError(f"QEMU {text!r} is not a release the rules know; declare the build "
                            f"under builds: in a qemu.yaml of a rule overlay (--rules DIR)", where)
        found = (self.releases.get(rel.series) or self.history.get(rel.series)
                 or self.inferred.get(rel.series))
        if found is not None:
            return found
        if rel.series > self.newest.version.series and self.deletion_major is not None:
            return self._infer(rel)
        every = sorted([*self.history.values(), *self.releases.values()], key=lambda r: r.version.parts)
        known = f"{every[0].version} .. {every[-1].version}"
        raise SpecError(f"QEMU {text} is not in the rules (known: {known}); declare it under "
                        f"releases: in a qemu.yaml of a rule overlay (--rules DIR)", where)

    def _infer(self, rel: Release) -> QemuRelease:
        """A release past the newest listed: its own X.Y types, the deletion window kept."""
        newest = self.newest
        assert self.deletion_major is not None
        # Types whose version is at or before X-N.Y are older than the window.
        cutoff = (rel.series[0] - self.deletion_major, rel.series[1])
        floor = newest.machines_min.parts if newest.machines_min else (0,)
        kept = [v for v in sorted(self.machines.versions)
                if len(v) == 2 and v > cutoff and v >= floor]
        series = Release(rel.series)
        lo = Release(kept[0]) if kept else series
        inferred = replace(
            newest, id=f"qemu.{series}.inferred", version=series, base=newest.version,
            machines_min=lo, machines_max=series,
            description=(f"QEMU {series} is newer than the rules (newest listed {newest.version}): "
                         f"inferred to register {series} types down to {lo} and to keep "
                         f"{newest.version}'s SEOIB design ({newest.seoib})"),
            source=f"{newest.source}; {self.inference_source}", confirmed=False)
        self.family_ranges[inferred.id] = self.family_ranges.get(newest.id, {})
        self.inferred[rel.series] = inferred
        return inferred

    def alias_target(self, qemu: QemuRelease, alias: str) -> str | None:
        hi = qemu.machines_max
        if hi is None:
            return None
        for family in self.machines.alias_families.get(alias, []):
            lo_f, hi_f = self.machines.bounds.get(family.id, (None, None))
            if (lo_f is None or hi.parts >= lo_f.parts) and (hi_f is None or hi.parts <= hi_f.parts):
                return f"{family.id}-{hi}"
        return None

    def loaded_commands(self, qemu: QemuRelease) -> tuple[StreamCommand, ...]:
        """The stream commands a build knows: those its feature release (a build's base)
        has, i.e. added at or before it."""
        series = (qemu.base or qemu.version).series
        return tuple(c for c in self.stream_commands if series >= c.since.series)

    def stream_facts(self, qemu: QemuRelease, machine: MachineType) -> dict[str, str]:
        """``qemu.stream_<fact>`` of each stream command for a build and the VM's machine
        type: ``compat`` for a versioned type, else whether the build sends and knows the
        command (``yes``/``no``)."""
        loaded = self.loaded_commands(qemu)
        return {f"qemu.stream_{cmd.fact}": "compat" if machine.version is not None
                else "yes" if cmd in loaded else "no"
                for cmd in self.stream_commands}

    def registers(self, qemu: QemuRelease, machine: MachineType) -> bool:
        if machine.version is None:
            return machine.family.id in qemu.unversioned
        lo, hi = qemu.machines_min, qemu.machines_max
        fam_lo, fam_hi = self.family_ranges.get(qemu.id, {}).get(machine.family.id, (None, None))
        lo, hi = fam_lo or lo, fam_hi or hi
        return (lo is not None and hi is not None
                and lo.parts <= machine.version.parts <= hi.parts)


def _entries(doc: LineDict, key: str, source: str, known: dict[str, tuple], prefix: str,
             switches: dict[str, Assumption],
             make: Callable[[LineDict, Location, dict[str, Any], dict[str, str], list[Problem]], Any]
             ) -> dict[str, Any]:
    """Rule-data entries with `facts`, each checked against the declared input facts; a value
    written ``{assume: <id>}`` takes the switch's value (seoib.rules.assumptions)."""
    out: dict[str, Any] = {}
    problems: list[Problem] = []
    for i, entry in enumerate(doc[key]):
        loc = item_location(doc[key], i, source)
        facts: dict[str, Any] = {}
        used: dict[str, str] = {}
        for name, raw in entry["facts"].items():
            facts[name], switch = switched(raw, switches, known.get(name), entry["id"], loc, problems)
            if switch is not None:
                used[name] = switch
        problems += _check_facts(entry["id"], facts, known, prefix, loc)
        out[entry["id"]] = make(entry, loc, facts, used, problems)
    if problems:
        raise RuleError.from_problems(problems)
    return out


def _design(switches: dict[str, Assumption]) -> Callable[..., Design]:
    def make(d: LineDict, loc: Location, facts: dict[str, Any], used: dict[str, str],
             problems: list[Problem]) -> Design:
        def field(key: str, default: Any, allowed: tuple[str, ...] | None) -> Any:
            value, switch = switched(d.get(key, default), switches, allowed, d["id"], loc, problems)
            if switch is not None:
                used[key] = switch
            return value

        gate = field("gate", None, None)
        policy = field("default_policy", "quirked", ("quirked", "respected", "not-advertised"))
        unversioned = field("unversioned", "yes", ("yes", "no"))
        return Design(d["id"], d["description"], facts, d["source"], loc,
                      _rel(gate) if gate not in (None, "build") else None, policy or "quirked",
                      bool(d.get("confirmed", True)), gate == "build", unversioned != "no", used)
    return make


def load_designs(doc: LineDict, source: str, known: dict[str, tuple],
                 switches: dict[str, Assumption] | None = None) -> dict[str, Design]:
    return _entries(doc, "designs", source, known, "qemu.", switches or {}, _design(switches or {}))


def load_guests(doc: LineDict, source: str, known: dict[str, tuple],
                switches: dict[str, Assumption] | None = None) -> dict[str, GuestProfile]:
    guests = _entries(doc, "guests", source, known, "guest.", switches or {},
                      lambda g, loc, facts, used, problems: GuestProfile(
                          g["id"], g["description"], facts, g["source"], loc,
                          bool(g.get("confirmed", True)), used))
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


def _stream_command(entry: dict[str, Any], loc: Location) -> StreamCommand:
    return StreamCommand(entry["id"], entry["command"], entry["fact"],
                         parse_release(entry["since"]) or Release((0, 0)),
                         entry.get("description", entry["command"]), entry["source"], loc,
                         bool(entry.get("confirmed", True)))
