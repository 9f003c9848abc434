"""The shapes of the public verdict objects, as TypedDicts.

These mirror schemas/policy-output.schema.json and schemas/migrate-output.schema.json
key for key (tests/test_verdict_types.py holds them to it, both ways): a key the
schema requires is a required key here, every other property an optional one.
Nested parts whose shape the schema leaves open (a host's or VM's JSON, the
witness's simulator state) stay ``dict[str, Any]``. Types only: importing this
costs nothing at run time, and a verdict is still a plain dict.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["Alternative", "Assumed", "DisagreementRecord", "Finding", "MigrateVerdict", "PolicyVerdict",
           "Reason", "RulesRef", "SourceAfter", "VMState", "Witness"]


class _ReasonBase(TypedDict):
    rule: str
    text: str
    source: str


class Reason(_ReasonBase, total=False):
    """One rule or datum behind a verdict; ``confirmed`` appears (False) only when it is not."""

    confirmed: bool


class Finding(TypedDict):
    outcome: str
    severity: str


class Alternative(TypedDict):
    """What a VM would get by choosing ``policy`` explicitly (-accel kvm,seoib-policy=)."""

    policy: str
    outcome: str
    severity: str


class VMState(TypedDict):
    """A side's SEOIB state: the policy, KVM's flags, LVR bit 24, whether suppression holds."""

    policy: str
    kvm_flags: int
    lvr_seoib: bool
    suppression_honored: bool


class _WitnessBase(TypedDict):
    ran: bool
    agrees: bool | None  # None: the simulator was not asked
    outcome: str | None
    counters: dict[str, int]


class Witness(_WitnessBase, total=False):
    """The simulator's run of the same question, and where it differs from the verdict."""

    differences: list[str]
    note: str
    events: list[str]
    state: dict[str, Any] | None
    findings: list[str]
    src_state: dict[str, Any] | None
    dst_state: dict[str, Any] | None
    source_runstate: str | None


class RulesRef(TypedDict):
    root: str
    digest: str


class _PolicyBase(TypedDict):
    command: str  # "policy"
    host: dict[str, Any]
    vm: dict[str, Any]
    policy: str
    kvm_flags: int
    lvr_seoib: bool
    suppression_honored: bool
    outcome: str
    severity: str
    alternatives: list[Alternative]
    findings: list[Finding]
    reasons: list[Reason]
    witness: Witness


class Assumed(TypedDict):
    """A named switch a verdict rests on (rules/assumptions.yaml), as the verdict shows it."""

    id: str
    value: str
    default: str
    overridden: bool
    description: str
    source: str
    set_by: str | None


class PolicyVerdict(_PolicyBase, total=False):
    """`seoib policy`: the power-on state of a VM on a host, every alternative, and why."""

    rules: RulesRef
    unconfirmed: list[str]
    assumptions: list[Assumed]
    notes: list[str]
    inferred: bool


class _MigrateBase(TypedDict):
    command: str  # "migrate"
    mode: str  # "live" or "snapshot"
    src: dict[str, Any]
    dst: dict[str, Any]
    vm: dict[str, Any]
    src_state: VMState | None
    dst_state: VMState | None
    outcome: str
    severity: str
    findings: list[Finding]
    reasons: list[Reason]
    witness: Witness


class SourceAfter(TypedDict):
    """What becomes of the source after a live migration, per management layer."""

    qemu: str  # running | postmigrate | not-started
    libvirt: str  # running | migrated | not-started
    text: str
    rule: str
    source: str


class MigrateVerdict(_MigrateBase, total=False):
    """`seoib migrate`: a live migration (or a snapshot's loadvm) from ``src`` to ``dst``."""

    source_after: SourceAfter | None
    rules: RulesRef
    unconfirmed: list[str]
    assumptions: list[Assumed]
    notes: list[str]
    inferred: bool


class DisagreementRecord(TypedDict):
    """A verdict the simulator did not reproduce, as `seoib check` reports it."""

    command: str
    outcome: str
    differences: list[str]
