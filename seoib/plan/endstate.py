"""The fleet after the last wave: who still runs quirked, and what a cold boot fixes.

A running VM keeps the SEOIB state of its boot, so the rollout reaches it only at
its next cold start. For every item (a block's VMs of one content) whose hosts the
rollout touched: check.stays-quirked says whether its running VMs stay quirked (a
note; a warning when the guest is storm-exposed; a block when the new stack cannot
deliver the fix to a storming guest even after a restart). VMs that cannot see
SEOIB at all (no x2APIC: not-applicable) get nothing. ``tally`` counts the VMs a
cold boot at the end fixes or breaks against their first boot: what `seoib plan`
maximises.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .blocks import Block, Item, Layout
from .findings import Finding, engine_rules
from .fleetclasses import FleetClasses, HostClass
from .planfile import Wave

__all__ = ["EndState"]

_EXPOSED = {"storm-risk", "storm"}


@dataclass
class EndState:
    waves: Sequence[Wave]  # the waves run, in order
    layout: Layout
    fleet: FleetClasses
    initial: Sequence[HostClass]  # per block
    final: Sequence[HostClass]
    labels: Sequence[str]  # each block's final stack, by its own versions
    first_labels: Sequence[str]  # each block's first stack
    last_wave: Sequence[int | None]  # the last wave that touched each block

    def stays_quirked(self) -> Iterator[Finding]:
        for block in self.layout.blocks:
            k = self.last_wave[block.id]
            if k is None:
                continue
            for item in block.items:
                orig = self.fleet.vm_class(item.spec, self.initial[block.id])
                running = self.fleet.boot(orig)
                if (running["policy"] != "quirked" or running["outcome"] == "not-applicable"
                        or not self.fleet.registers(self.final[block.id], orig)):
                    continue  # no x2APIC, no SEOIB to fix; or gone from this host
                finding = self._finding(block, item, k, running)
                if finding is not None:
                    yield finding

    def _finding(self, block: Block, item: Item, k: int, running: dict[str, Any]
                 ) -> Finding | None:
        b, wave = block.id, self.waves[k - 1]
        orig = self.fleet.vm_class(item.spec, self.initial[b])
        fresh = self.fleet.boot(self.fleet.vm_class(item.spec, self.final[b]))
        exposed = running["outcome"] in _EXPOSED
        vms = f"{item.name} ({item.count} VMs)" if len(item.entries) > 1 or item.entries[
            0].is_group else item.name
        if fresh.get("policy") in ("quirked", "n/a", None):
            if not (exposed and fresh.get("outcome") in _EXPOSED):
                return None
            msg = (f"{vms} on {block.describe()}: still {running['outcome']} after the "
                   f"rollout, and a cold restart on {self.labels[b]} stays quirked too: this "
                   "stack cannot deliver the fix")
            severity, verdicts = ("block" if running["outcome"] == "storm" else "warn"), [fresh]
        else:
            msg = (f"{vms} on {block.describe()}: running VMs stay quirked "
                   f"({running['outcome']}) after the rollout; a cold restart on "
                   f"{self.labels[b]} gives {fresh['policy']} ({fresh['outcome']})"
                   + ("; the guest is storm-exposed until then" if exposed else ""))
            severity = "warn" if exposed else "info"
            verdicts = [self.fleet.migrate(orig, self.final[b]), fresh]
        f = Finding("check.stays-quirked", severity, wave.name, k, "end",
                    self.layout.hosts_of(b), self.layout.vms_of(item), item.count, "original",
                    item.line, item.line, msg, engine_rules(verdicts), outcome=running["outcome"],
                    booted={"host": block.name, "stack": self.first_labels[b], "wave": None})
        if running["severity"] != "ok":
            f.cause = "pre-existing"  # the same guests, exposed since before the rollout
        return f

    def tally(self) -> tuple[int, int]:
        """VMs a cold boot at the end fixes, and VMs it breaks, against their first boot."""
        fixed = broken = 0
        for block in self.layout.blocks:
            b = block.id
            for item in block.items:
                before = self.fleet.boot(self.fleet.vm_class(item.spec, self.initial[b]))
                end = self.fleet.vm_class(item.spec, self.final[b])
                if not self.fleet.registers(self.final[b], end):
                    continue
                after = self.fleet.boot(end)
                if before["severity"] != "ok" and after["severity"] == "ok":
                    fixed += item.count
                elif before["severity"] == "ok" and after["severity"] != "ok":
                    broken += item.count
        return fixed, broken
