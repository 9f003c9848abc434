"""Which runs make up a lab: the power-on matrix, the guest runs, the migrations.

Contract: given the binaries (one or two) and the machine types asked for, the
plan lists every run as a :class:`Run` (an observer and its arguments), in a
fixed order, so two labs on the same binaries run the same things:

- power-on: every machine type x kernel-irqchip (default, on, split) x
  ``-global ioapic.version`` (none, 0x11, 0x20) on this kernel, and split on a
  kernel without the flags;
- guest: every PC machine type (the guest needs pc-testdev's ISA line) with
  split and with the in-kernel irqchip; on the newest q35 type of each IOAPIC
  version class (<= 2.7: 0x11, later: 0x20) also on a kernel without the flags
  and, on a binary without a SEOIB design, with the flags set as a design would;
- migration: every machine type both binaries register, split, in both
  directions; on the newest shared q35 type also each binary to itself, and to
  itself on a destination kernel without the flags; and there, between every pair
  (both ways and each to itself) with the guest continued on the destination.

Machine types QEMU cannot run on KVM alone (``none``, Xen's, ``x-remote``) are
left out and named in the plan's notes.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .binary import QemuBinary
from .guestrun import observe_guest
from .kernels import view
from .migration import observe_migration
from .poweron import observe_poweron
from .vm import LabVM

__all__ = ["IOAPIC_GLOBALS", "IRQCHIPS", "LabPlan", "Run", "make_plan", "select_machines"]

IRQCHIPS: tuple[str | None, ...] = (None, "on", "split")
IOAPIC_GLOBALS: tuple[str | None, ...] = (None, "0x11", "0x20")
NOT_ON_KVM = ("none", "xenfv*", "xenpv*", "x-remote*")
_PC = re.compile(r"^pc-(?P<family>q35|i440fx)-(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<micro>\d+))?$")
LAST_0X11 = (2, 7)  # hw_compat_2_7 sets ioapic.version=0x11 on pc/q35 <= 2.7 (docs/domain.md)


@dataclass(frozen=True)
class Run:
    kind: str
    observe: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass
class LabPlan:
    runs: list[Run] = field(default_factory=list)
    machines: dict[str, list[str]] = field(default_factory=dict)  # binary label -> types
    notes: list[str] = field(default_factory=list)


def _version(machine: str) -> tuple[int, ...] | None:
    m = _PC.match(machine)
    return None if m is None else tuple(int(x or 0) for x in m.group("major", "minor", "micro"))


def select_machines(binary: QemuBinary, patterns: Sequence[str]) -> list[str]:
    """The binary's machine types matching any pattern (all by default), runnable on KVM."""
    chosen = [m for m in binary.machines
              if not any(fnmatch.fnmatchcase(m, skip) for skip in NOT_ON_KVM)
              and (not patterns or any(fnmatch.fnmatchcase(m, p) for p in patterns))]
    return sorted(chosen, key=lambda m: (_version(m) is None, _version(m) or (), m))


def _newest_q35(machines: Sequence[str], old_ioapic: bool) -> str | None:
    picks = [(v, m) for m in machines if m.startswith("pc-q35-") and (v := _version(m))
             and (v[:2] <= LAST_0X11) == old_ioapic]
    return max(picks)[1] if picks else None


def _guest_runs(binary: QemuBinary, machines: list[str]) -> list[Run]:
    runs = [Run("guest", observe_guest, (binary, LabVM(m, chip), view("this-kernel")))
            for m in machines if _version(m) for chip in ("split", "on")]
    views = ["without-flags"] + ([] if binary.design else ["design-respected",
                                                            "design-not-advertised"])
    for old in (False, True):
        m = _newest_q35(machines, old)
        if m:
            runs += [Run("guest", observe_guest, (binary, LabVM(m, "split"), view(v))) for v in views]
    return runs


def make_plan(binaries: Sequence[QemuBinary], patterns: Sequence[str]) -> LabPlan:
    plan = LabPlan()
    for b in binaries:
        machines = select_machines(b, patterns)
        plan.machines[b.label] = machines
        skipped = [m for m in b.machines if any(fnmatch.fnmatchcase(m, s) for s in NOT_ON_KVM)]
        if skipped:
            plan.notes.append(f"{b.label}: not started (they need another accelerator or have no "
                              f"board): {', '.join(skipped)}")
        plan.runs += [Run("power-on", observe_poweron, (b, LabVM(m, chip, ver), view("this-kernel")))
                      for m in machines for chip in IRQCHIPS for ver in IOAPIC_GLOBALS]
        plan.runs += [Run("power-on", observe_poweron, (b, LabVM(m, "split"), view("without-flags")))
                      for m in machines]
        plan.runs += _guest_runs(b, machines)
    plan.runs += _migration_runs(binaries, plan.machines)
    return plan


def _migration_runs(binaries: Sequence[QemuBinary], machines: dict[str, list[str]]) -> list[Run]:
    this, old = view("this-kernel"), view("without-flags")
    runs = []
    if len(binaries) == 2:
        a, b = binaries
        shared = [m for m in machines[a.label] if m in set(machines[b.label])]
        runs += [Run("migration", observe_migration, (s, d, LabVM(m, "split"), this, this))
                 for m in shared for s, d in ((a, b), (b, a))]
    else:
        shared = list(machines[binaries[0].label])
    newest = _newest_q35(shared, old_ioapic=False)
    if newest:
        vm = LabVM(newest, "split")
        for b in binaries:
            runs += [Run("migration", observe_migration, (b, b, vm, this, dst)) for dst in (this, old)]
        pairs = [(s, d) for s in binaries for d in binaries]
        runs += [Run("migration", observe_migration, (s, d, vm, this, this, True)) for s, d in pairs]
    return runs
