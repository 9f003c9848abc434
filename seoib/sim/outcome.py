"""Witness records and the classification of what a run observed.

Outcomes are read off counters, never off the configuration:
- storm: a device event delivered ``STORM_DELIVERIES`` times or more before the
  guest serviced it (``storms``), or a vCPU loop that never went idle;
- stuck: an asserted line still undelivered after the guest finished its EOI
  sequence (``stuck_events``), or a level pin left with Remote IRR set and nothing
  in service (``wedged_pins``: every later assertion of that pin is lost).
A storm is ``storm`` when the guest is known and ``storm-risk`` when the verdict is
the worst case over all known guests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .frozen import Value
from .kvm import MODE_DISABLED, MODE_ENABLED, MODE_QUIRKED

__all__ = [
    "BOOT_OUTCOMES",
    "FINDING_ORDER",
    "MIGRATION_OUTCOMES",
    "POLICY_OF_MODE",
    "BootWitness",
    "MigrationWitness",
    "VMState",
    "order_findings",
    "run_findings",
]

BOOT_OUTCOMES = ("ok", "not-applicable", "storm-risk", "storm", "stuck", "start-fails")
FINDING_ORDER = (
    "unsupported",
    "refused",
    "dest-abort",
    "cpu-model-change",
    "stuck",
    "storm",
    "storm-risk",
)
MIGRATION_OUTCOMES = (*FINDING_ORDER, "ok")
POLICY_OF_MODE = {MODE_QUIRKED: "quirked", MODE_ENABLED: "respected", MODE_DISABLED: "not-advertised"}


class VMState(Value):
    """What KVM ends up in for the VM, as observed from the simulated KVM."""

    policy: str
    kvm_flags: int
    lvr_seoib: bool
    suppression_honored: bool

    def __init__(self, policy: str, kvm_flags: int, lvr_seoib: bool, suppression_honored: bool) -> None:
        self._store(policy=policy, kvm_flags=kvm_flags, lvr_seoib=lvr_seoib,
                    suppression_honored=suppression_honored)


class BootWitness(Value):
    """A cold boot followed by device events."""

    outcome: str
    state: VMState | None
    counters: Mapping[str, int]
    events: tuple[str, ...]

    def __init__(self, outcome: str, state: VMState | None, counters: Mapping[str, int],
                 events: tuple[str, ...]) -> None:
        self._store(outcome=outcome, state=state, counters=counters, events=events)


class MigrationWitness(Value):
    """A live migration or snapshot restore followed by device events; ``source_runstate``
    is the source QEMU's runstate after a live migration (None for a restore)."""

    outcome: str
    findings: tuple[str, ...]
    src_state: VMState | None
    dst_state: VMState | None
    counters: Mapping[str, int]
    events: tuple[str, ...]
    source_runstate: str | None

    def __init__(self, outcome: str, findings: tuple[str, ...], src_state: VMState | None,
                 dst_state: VMState | None, counters: Mapping[str, int], events: tuple[str, ...],
                 source_runstate: str | None = None) -> None:
        self._store(outcome=outcome, findings=findings, src_state=src_state, dst_state=dst_state,
                    counters=counters, events=events, source_runstate=source_runstate)


def run_findings(per_guest: Iterable[Mapping[str, int]], known_guest: bool) -> list[str]:
    """Findings from the counters of each guest's run: ``stuck`` before storms."""
    stuck = storm = False
    for c in per_guest:
        stuck = stuck or bool(c.get("stuck_events") or c.get("wedged_pins"))
        storm = storm or bool(c.get("storms") or c.get("budget_exhausted"))
    out = []
    if stuck:
        out.append("stuck")
    if storm:
        out.append("storm" if known_guest else "storm-risk")
    return out


def order_findings(findings: Iterable[str]) -> tuple[str, ...]:
    """Deduplicate and sort findings into the contract's order."""
    seen = set(findings)
    return tuple(f for f in FINDING_ORDER if f in seen)
