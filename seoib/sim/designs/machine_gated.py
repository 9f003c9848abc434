"""``machine-gated``: the RFC's selection, only for machine types at or after a gate.

Written from its description in the RFC review (unmerged; no code exists). Every
behaviour below is an assumption, marked ``confirmed: false`` in the rules too:
- The gate is the first machine type of the QEMU release that ships the design:
  pc-*-X.Y for a build of QEMU X.Y (derived here from the QEMU version the build
  runs as, since each feature release adds exactly its own X.Y machine type).
- QEMU's compat convention: the new behaviour is the machine class default and
  older versioned types switch it off through compat properties, so unversioned
  types (microvm) get the selection.
- The IOAPIC version is read as the machine really has it (a merged design would
  not keep the RFC's globals-only lookup); at or after any gate this equals the
  device default unless a -global says otherwise.
- Everything else follows the RFC: split irqchip only, warn -> QUIRKED without
  the kernel flags, the section ``needed`` = split and not QUIRKED, the same
  post_load, -incoming / -loadvm deferral, no -accel property.
"""

from __future__ import annotations

import re

from ..config import SimVM
from ..seoib import Board
from .rfc_v2 import RfcV2

__all__ = ["MachineGated", "gate_of"]

_FEATURE = re.compile(r"^(\d+)\.(\d+)")


def gate_of(qemu_version: str) -> tuple[int, int]:
    """The first machine type version of the build's feature release: X.Y of X.Y.Z."""
    match = _FEATURE.match(qemu_version)
    if match is None:
        raise ValueError(f"cannot read a QEMU feature release from {qemu_version!r}")
    return int(match.group(1)), int(match.group(2))


class MachineGated(RfcV2):
    """Automatic selection gated on the machine type."""

    name = "machine-gated"
    ioapic_lookup = "effective"

    def ioapic_version(self, vm: SimVM) -> int:
        return vm.ioapic

    def selects(self, board: Board) -> bool:
        if not super().selects(board):
            return False
        version = board.vm.machine_version
        gate = gate_of(board.host.qemu_version or "")
        if version is not None and version < gate:
            board.log(f"{board.who}: machine {board.vm.machine} below the gate "
                      f"{'.'.join(map(str, gate))}, stays quirked")
            return False
        return True
