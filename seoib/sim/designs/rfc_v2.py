"""``rfc-v2``: "[RFC PATCH v2] target/i386/kvm: Configure proper KVM SEOIB behavior".

Written from the diff (v1 26 Nov 2025, v2 9 Mar 2026):
- x86_cpus_init(), before any vCPU exists, only with KVM and a split irqchip, and
  only at a fresh power-on (not RUN_STATE_INMIGRATE, not -loadvm): read the IOAPIC
  version with get_ioapic_version_from_globals(), i.e. ``qdev_find_global_prop()``
  on a fresh ``ioapic`` object. That sees the user's ``-global ioapic.version=``
  only; machine-type compat properties (hw_compat_2_7's 0x11) are applied
  elsewhere, so without a user global it returns IOAPIC_VER_DEF (0x20).
  >= 0x20 -> RESPECTED, else NOT_ADVERTISED.
- kvm_try_set_lapic_seoib_state(): both flags must show in
  KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) on the system fd, then KVM_ENABLE_CAP;
  any failure -> warn_report and QUIRKED (never a start failure).
- x86_seoib_needed(): ``kvm_irqchip_is_split() && state != QUIRKED``.
- x86_seoib_post_load(): on split, set the flags or abort(); not split: abort().
- No -accel property.
"""

from __future__ import annotations

from ..config import SimVM
from ..kvm import IRQCHIP_SPLIT
from ..seoib import IOAPIC_VER_DEF, NOT_ADVERTISED, QUIRKED, RESPECTED, Board
from .base import QemuDesign, rfc_needed, rfc_post_load, try_set_state

__all__ = ["RfcV2", "globals_ioapic_version"]


def globals_ioapic_version(vm: SimVM) -> int:
    """qdev_find_global_prop(ioapic, "version"): a user -global, else the default."""
    value = vm.global_value("ioapic.version")
    return int(value, 0) if value is not None else IOAPIC_VER_DEF


class RfcV2(QemuDesign):
    """Automatic selection at power-on for every machine type."""

    name = "rfc-v2"
    knows_section = True
    ioapic_lookup = "globals-only"

    def ioapic_version(self, vm: SimVM) -> int:
        """The version the selection bases its choice on."""
        return globals_ioapic_version(vm)

    def selects(self, board: Board) -> bool:
        """Whether this VM gets automatic selection at all."""
        return board.vm.irqchip == IRQCHIP_SPLIT

    def power_on(self, board: Board) -> str:
        if not self.selects(board):
            return QUIRKED
        seen = self.ioapic_version(board.vm)
        state = RESPECTED if seen >= 0x20 else NOT_ADVERTISED
        if not try_set_state(board, state, f"IOAPIC {seen:#x} (as looked up)"):
            board.log(f"{board.who}: warning: Kernel does not support SEOIB flags; "
                      "falling back to QUIRKED")
            return QUIRKED
        return state

    def needed(self, vm: SimVM, state: str) -> bool:
        return rfc_needed(vm, state)

    def post_load(self, board: Board, state: str) -> None:
        rfc_post_load(board, state)
