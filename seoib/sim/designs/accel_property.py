"""``accel-property``: ``-accel kvm,seoib-policy=quirked|respected|not-advertised``.

Written from its description in the RFC review (the author's preferred direction;
unmerged, no code exists). What the description leaves open is a named switch
(seoib/sim/assumptions.py), read here and by the rules alike:
- ``accel-property-default``: the policy without the option (quirked);
- ``accel-property-in-kernel``: whether it sets the flags with the in-kernel
  irqchip too (yes), or only on split as the RFC does;
- ``accel-property-refusal``: what QEMU does when KVM refuses the flag (EINVAL: an
  unknown bit, or ENABLE without split irqchip): ``stop`` at start (an explicit
  request fails loudly), or ``quirked`` with a warning, as the RFC does.
The rest follows the RFC: KVM_ENABLE_CAP without the RFC's system-fd check, flags
set at a fresh power-on only (-incoming and -loadvm take the state from the
stream), the section ``needed`` only with split and not QUIRKED, and a post_load
that aborts when not split or when KVM refuses, setting the received state's flag
directly. With kernel-irqchip=off KVM has no LAPIC and there is nothing to set.
"""

from __future__ import annotations

from ..config import SimVM
from ..kvm import IRQCHIP_KERNEL, IRQCHIP_NONE
from ..seoib import QUIRKED, Board, StartFailure
from .base import QemuDesign, rfc_needed, rfc_post_load, set_state_directly

__all__ = ["AccelProperty"]


class AccelProperty(QemuDesign):
    """The user's explicit policy, applied at power-on."""

    name = "accel-property"
    knows_section = True
    accel_properties = frozenset({"seoib-policy"})

    def power_on(self, board: Board) -> str:
        irqchip, assume = board.vm.irqchip, board.assume
        if irqchip == IRQCHIP_NONE:
            return QUIRKED
        if irqchip == IRQCHIP_KERNEL and not assume.yes("accel-property-in-kernel"):
            board.log(f"{board.who}: seoib-policy applies to split irqchip only "
                      "(accel-property-in-kernel: no), stays quirked")
            return QUIRKED
        state = board.vm.seoib_policy or assume.get("accel-property-default")
        if board.set_flags(state, "seoib-policy") >= 0:
            return state
        if assume.get("accel-property-refusal") == "stop":
            raise StartFailure(f"seoib-policy={state}: KVM_ENABLE_CAP(X2APIC_API) failed")
        board.log(f"{board.who}: warning: KVM refused seoib-policy={state}; "
                  "falling back to QUIRKED (accel-property-refusal: quirked)")
        return QUIRKED

    def needed(self, vm: SimVM, state: str) -> bool:
        return rfc_needed(vm, state)

    def post_load(self, board: Board, state: str) -> None:
        rfc_post_load(board, state, set_state_directly)
