"""Typed rule-set model: what the compiler and resolver work with after loading."""

from __future__ import annotations

from typing import Any

from ..errors import Location
from ..record import Factory, record
from .versions import Release

__all__ = [
    "Assign",
    "Assumption",
    "Capability",
    "Citation",
    "Condition",
    "Design",
    "Fact",
    "Family",
    "GuestProfile",
    "KernelChange",
    "MachineCompat",
    "OutcomeRule",
    "QemuRelease",
    "Query",
    "Rule",
    "Side",
    "StreamCommand",
]


@record
class Citation:
    """Where a verdict's reason comes from: a rule id, its text and its source."""

    rule: str
    text: str
    source: str
    location: Location | None = None
    confirmed: bool = True

    def as_json(self) -> dict[str, Any]:
        """The reason entry; one dict per citation, shared by every verdict that cites it
        (verdicts are read-only), so encoders can write it once."""
        out: dict[str, Any] | None = self.__dict__.get("_json")
        if out is None:
            out = {"rule": self.rule, "text": self.text, "source": self.source}
            if not self.confirmed:
                out["confirmed"] = False
            self.__dict__["_json"] = out
        return out


class _Cited:
    """Rule-data entries that verdicts cite: each has id, description, source, location."""

    id: str
    description: str
    source: str
    location: Location | None
    confirmed: bool

    def citation(self) -> Citation:
        # One per entry (every resolution cites it again), kept beside the fields.
        cited: Citation | None = self.__dict__.get("_citation")
        if cited is None:
            cited = self.__dict__["_citation"] = Citation(self.id, self.description, self.source,
                                                          self.location, self.confirmed)
        return cited


@record
class Fact:
    """A fact of the vocabulary: its scope, its domain of values and, for inputs, a default.

    Built by ``compiler.parse_facts`` from the rules' facts file. Every value a rule
    tests or sets, and every value the resolver gives an input fact, is one of
    ``values`` (the compiler checks the rules; booleans and numbers never mix in one
    domain). Input facts come from the resolver, the others only from rules.
    """

    name: str
    scope: str  # host | state | vm | pair
    values: tuple[Any, ...]
    description: str
    input: bool = False
    default: Any = None
    location: Location | None = None
    per_machine: bool = False  # an input the resolver sets from the VM's machine type


@record
class Condition:
    """``fact`` must hold one of ``allowed`` (an unset fact never matches)."""

    fact: str
    allowed: frozenset[Any]


@record
class Assign:
    """Set ``fact`` to ``value``, or to the value of ``copy`` when given."""

    fact: str
    value: Any = None
    copy: str | None = None

    def same_as(self, other: Assign) -> bool:
        return (self.value, self.copy) == (other.value, other.copy)


@record
class Rule:
    """A stage rule: when every condition holds, set the facts of ``then``.

    Built by ``compiler.parse_stages`` from a stage file (``location`` is its
    file:line); a side-template rule is instantiated once per side (``side`` set).
    The compiler proves that two rules deriving different values for one fact can
    never both apply, so evaluation order among them cannot change a verdict.
    """

    id: str
    stage: str
    description: str
    source: str
    when: tuple[Condition, ...]
    then: tuple[Assign, ...]
    location: Location
    confirmed: bool = True
    side: str | None = None  # set on instances of side-template rules

    @property
    def label(self) -> str:
        return f"{self.id}[{self.side}]" if self.side else self.id

    def reads(self) -> set[str]:
        return {c.fact for c in self.when} | {a.copy for a in self.then if a.copy}

    def citation(self) -> Citation:
        # Built once per rule (verdicts cite the same rules line after line); kept beside
        # the fields, so equality, hashing and the rules cache (fields only) never see it.
        cited: Citation | None = self.__dict__.get("_citation")
        if cited is None:
            text = f"{self.side}: {self.description}" if self.side else self.description
            cited = Citation(self.id, text, self.source, self.location, self.confirmed)
            object.__setattr__(self, "_citation", cited)
        return cited


@record
class OutcomeRule:
    """A query outcome, reached when every condition holds."""

    outcome: str
    when: tuple[Condition, ...]
    location: Location


@record
class Side:
    """One side of a query (a host role) and the stages run for it."""

    name: str
    host: str
    stages: tuple[str, ...]


@record
class Query:
    """A named question over the facts: its sides, stages and outcomes in order.

    Built by ``compiler.parse_queries`` from the rules' queries file (``policy``,
    ``migrate``, ``snapshot``). Outcomes are tested in order: the first that holds
    is the verdict's outcome, every one that holds a finding, ``otherwise`` when none.
    """

    name: str
    description: str
    sides: tuple[Side, ...]
    stages: tuple[str, ...]
    outcomes: tuple[OutcomeRule, ...]
    otherwise: str
    location: Location

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.host for s in self.sides))


@record
class Capability:
    """A kernel capability: the fact it sets and its KVM_CAP_X2APIC_API mask bit."""

    id: str
    fact: str
    mask: int
    description: str
    source: str
    location: Location


@record
class KernelChange(_Cited):
    """Capabilities a release, stable backport or distribution build brings."""

    id: str
    capabilities: tuple[str, ...]
    description: str
    source: str
    location: Location
    confirmed: bool = True


@record
class QemuRelease(_Cited):
    """A QEMU release or build: its machine types and its SEOIB design."""

    id: str
    version: Release
    base: Release | None  # builds: the feature release they derive from
    machines_min: Release | None
    machines_max: Release | None
    unversioned: tuple[str, ...]
    seoib: str | None
    description: str
    source: str
    location: Location
    confirmed: bool = True


@record
class StreamCommand(_Cited):
    """A migration stream command a QEMU release added (rules/qemu.yaml ``stream_commands``).

    Builds from ``since`` on load it and send it for unversioned machine types; a
    versioned type's compat properties keep its stream loadable by every build that
    registers it. ``fact`` names the per-machine host fact ``qemu.stream_<fact>``.
    """

    id: str
    command: str
    fact: str
    since: Release
    description: str
    source: str
    location: Location
    confirmed: bool = True


@record
class Family:
    """A machine type family and its irqchip and IOAPIC defaults."""

    id: str
    versioned: bool
    alias: str | None
    defaults: dict[str, str]
    source: str
    location: Location
    apic: bool = True  # False: the board builds no LAPIC or IOAPIC by default (isapc)


@record
class MachineCompat(_Cited):
    """A compat rule: machine types of some families and versions set other defaults."""

    id: str
    families: tuple[str, ...]
    min: Release | None
    max: Release | None
    set: dict[str, str]
    description: str
    source: str
    location: Location
    confirmed: bool = True

    def applies(self, family: str, version: Release | None) -> bool:
        if family not in self.families or version is None:
            return False
        if self.min is not None and version.parts < self.min.parts:
            return False
        return self.max is None or version.parts <= self.max.parts


@record
class Assumption:
    """A named switch for what nobody has confirmed (rules/assumptions.yaml).

    ``value`` is the reading in force: the ``default`` unless an overlay set it
    (``set_by`` then names that entry). ``values`` lists what it may take (None: a
    machine type version X.Y). Rule data that rests on it names it, and every
    verdict that does cites it as an unconfirmed reason; the witness hands the
    values in force to the simulator.
    """

    id: str
    description: str
    default: str
    value: str
    values: tuple[str, ...] | None
    source: str
    location: Location | None = None
    set_by: Location | None = None

    @property
    def overridden(self) -> bool:
        return self.value != self.default

    def citation(self) -> Citation:
        cited: Citation | None = self.__dict__.get("_citation")
        if cited is None:
            how = (f"set to {self.value} by {self.set_by} (default {self.default})"
                   if self.overridden else f"{self.value} (the default; a site may switch it)")
            cited = self.__dict__["_citation"] = Citation(
                f"assume.{self.id}", f"assumed: {self.description}: {how}", self.source,
                self.set_by or self.location, False)
        return cited

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "value": self.value, "default": self.default,
                "overridden": self.overridden, "description": self.description,
                "source": self.source, "set_by": str(self.set_by) if self.set_by else None}


@record
class Design:
    """A QEMU SEOIB design: the facts it sets, its gate and its default policy.

    ``switches`` names, per fact or field (``gate``, ``unversioned``,
    ``default_policy``), the assumption whose value it took.
    """

    id: str
    description: str
    facts: dict[str, Any]
    source: str
    location: Location
    gate: Release | None = None
    default_policy: str = "quirked"
    confirmed: bool = True
    # gate: build - the first machine type of the QEMU build's own release
    gate_from_build: bool = False
    unversioned: bool = True  # unversioned machine types pass the gate
    switches: dict[str, str] = Factory(dict)

    def citation(self) -> Citation:
        cited: Citation | None = self.__dict__.get("_citation")  # one per design, as for rules
        if cited is None:
            text = f"QEMU SEOIB design {self.id}: {self.description}"
            cited = self.__dict__["_citation"] = Citation(f"design.{self.id}", text, self.source,
                                                          self.location, self.confirmed)
        return cited


@record
class GuestProfile:
    """A guest profile: the facts its behaviour sets; ``switches`` names the assumption
    each switched fact took its value from."""

    id: str
    description: str
    facts: dict[str, Any] = Factory(dict)
    source: str = ""
    location: Location | None = None
    confirmed: bool = True
    switches: dict[str, str] = Factory(dict)

    def citation(self) -> Citation:
        cited: Citation | None = self.__dict__.get("_citation")  # one per guest, as for rules
        if cited is None:
            cited = self.__dict__["_citation"] = Citation(f"guest.{self.id}", self.description,
                                                          self.source, self.location, self.confirmed)
        return cited
