"""``machine-gated``: the RFC's selection, only for machine types at or after a gate.

Written from its description (unmerged; no code exists): the RFC v2 cover letter
lists "Machine-type gating (restrict to 10.2+)". Read with QEMU's convention for a
new behaviour, a property whose machine-class default is on and which the
hw_compat list of every release before the gate turns off:
- every versioned machine type from the gate on gets the selection, in every build
  from the gate's release on; older types stay QUIRKED;
- a build older than the gate's release has no such property: no machine type is
  selected for, unversioned ones included;
- unversioned types (microvm) keep the class default where the build has it.
The gate and whether unversioned types pass it are named switches
(``machine-gated-gate``, ``machine-gated-unversioned``; seoib/sim/assumptions.py),
so a site that reads the proposal otherwise says so once, for the rules and the
simulator alike. The IOAPIC version is read as the machine really has it (at or
after the gate it is the device default unless a -global says otherwise).
Everything else follows the RFC: split irqchip only, warn -> QUIRKED without the
kernel flags, the section ``needed`` = split and not QUIRKED, the same post_load,
-incoming / -loadvm deferral, no -accel property.
"""

from __future__ import annotations

import re

from ..config import SimVM
from ..seoib import Board
from .rfc_v2 import RfcV2

__all__ = ["MachineGated", "build_release"]

_FEATURE = re.compile(r"^(\d+)\.(\d+)")


def build_release(qemu_version: str) -> tuple[int, int]:
    """The feature release a build runs as: X.Y of X.Y.Z."""
    match = _FEATURE.match(qemu_version)
    if match is None:
        raise ValueError(f"cannot read a QEMU feature release from {qemu_version!r}")
    return int(match.group(1)), int(match.group(2))


class MachineGated(RfcV2):
    """Automatic selection gated on the machine type."""

    name = "machine-gated"
    ioapic_lookup = "effective"
    reads_qemu_version = True  # a build older than the gate selects for nothing

    def ioapic_version(self, vm: SimVM) -> int:
        return vm.ioapic

    def selects(self, board: Board) -> bool:
        if not super().selects(board):
            return False
        gate = board.assume.gate()
        label = ".".join(map(str, gate))
        if build_release(board.host.qemu_version or "") < gate:
            board.log(f"{board.who}: QEMU {board.host.qemu_version} predates the gate {label}: "
                      "no selection, stays quirked")
            return False
        version = board.vm.machine_version
        if version is None:
            if not board.assume.yes("machine-gated-unversioned"):
                board.log(f"{board.who}: unversioned machine {board.vm.machine} is not selected "
                          "for (machine-gated-unversioned: no), stays quirked")
            return board.assume.yes("machine-gated-unversioned")
        if version < gate:
            board.log(f"{board.who}: machine {board.vm.machine} below the gate {label}, stays quirked")
            return False
        return True
