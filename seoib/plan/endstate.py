"""The fleet after the last wave: who still runs quirked, and what a cold boot fixes.

A running VM keeps the SEOIB state of its boot, so the rollout reaches it only at
its next cold start. For every VM entry whose host the rollout touched:
check.stays-quirked says whether its running VMs stay quirked (a note; a warning
when the guest is storm-exposed; a block when the new stack cannot deliver the fix
to a storming guest even after a restart). VMs that cannot see SEOIB at all
(no x2APIC: not-applicable) get nothing. ``tally`` counts the VMs a cold boot at the
end fixes or breaks against their first boot: what `seoib plan` maximises.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Location
from .findings import Finding, engine_rules
from .fleetclasses import FleetClasses, HostClass
from .planfile import Plan, VMEntry

__all__ = ["EndState"]

_EXPOSED = {"storm-risk", "storm"}


@dataclass
class EndState:
    plan: Plan
    fleet: FleetClasses
    initial: Sequence[HostClass]
    final: Sequence[HostClass]
    labels: Sequence[str]  # each host entry's final stack, by its own versions
    last_wave: Sequence[int | None]  # the last wave that touched each host entry

    def _booted(self, idx: int) -> dict[str, Any]:
        """Running since before the rollout: booted on the host entry's first stack."""
        h = self.plan.hosts[idx]
        return {"host": h.name, "stack": self.fleet.label(h.spec, Location(self.plan.source, h.line)),
                "wave": None}

    def stays_quirked(self) -> Iterator[Finding]:
        for v in self.plan.vms:
            idx = self.plan.host_index(v.host)
            k = self.last_wave[idx]
            if k is None:
                continue
            orig = self.fleet.vm_class(v.spec, self.initial[idx])
            running = self.fleet.boot(orig)
            if (running["policy"] != "quirked" or running["outcome"] == "not-applicable"
                    or not self.fleet.registers(self.final[idx], orig)):
                continue  # no x2APIC, no SEOIB to fix; or gone from this host
            finding = self._finding(v, idx, k, running)
            if finding is not None:
                yield finding

    def _finding(self, v: VMEntry, idx: int, k: int, running: dict[str, Any]) -> Finding | None:
        host, wave = self.plan.hosts[idx], self.plan.rollout[k - 1]
        orig = self.fleet.vm_class(v.spec, self.initial[idx])
        fresh = self.fleet.boot(self.fleet.vm_class(v.spec, self.final[idx]))
        exposed = running["outcome"] in _EXPOSED
        head = (v.name, v.count, "original", v.line, v.line)
        if fresh.get("policy") in ("quirked", "n/a", None):
            if not (exposed and fresh.get("outcome") in _EXPOSED):
                return None
            msg = (f"{v.describe()} on {host.describe()}: still {running['outcome']} after the "
                   f"rollout, and a cold restart on {self.labels[idx]} stays quirked too: this "
                   "stack cannot deliver the fix")
            severity, verdicts = ("block" if running["outcome"] == "storm" else "warn"), [fresh]
        else:
            msg = (f"{v.describe()} on {host.describe()}: running VMs stay quirked "
                   f"({running['outcome']}) after the rollout; a cold restart on "
                   f"{self.labels[idx]} gives {fresh['policy']} ({fresh['outcome']})"
                   + ("; the guest is storm-exposed until then" if exposed else ""))
            severity = "warn" if exposed else "info"
            verdicts = [self.fleet.migrate(orig, self.final[idx]), fresh]
        f = Finding("check.stays-quirked", severity, wave.name, k, "end", host.name, host.count,
                    *head, msg, engine_rules(verdicts), outcome=running["outcome"],
                    booted=self._booted(idx))
        if running["severity"] != "ok":
            f.cause = "pre-existing"  # the same guests, exposed since before the rollout
        return f

    def tally(self) -> tuple[int, int]:
        """VMs a cold boot at the end fixes, and VMs it breaks, against their first boot."""
        fixed = broken = 0
        for v in self.plan.vms:
            idx = self.plan.host_index(v.host)
            before = self.fleet.boot(self.fleet.vm_class(v.spec, self.initial[idx]))
            end = self.fleet.vm_class(v.spec, self.final[idx])
            if not self.fleet.registers(self.final[idx], end):
                continue
            after = self.fleet.boot(end)
            if before["severity"] != "ok" and after["severity"] == "ok":
                fixed += v.count
            elif before["severity"] == "ok" and after["severity"] != "ok":
                broken += v.count
        return fixed, broken

