"""``accel-property``: ``-accel kvm,seoib-policy=quirked|respected|not-advertised``.

Written from its description in the RFC review (the author's preferred direction;
unmerged, no code exists). Every behaviour below is an assumption, marked
``confirmed: false`` in the rules too:
- The property defaults to quirked; it applies to any machine type and to both
  in-kernel and split irqchip, whenever KVM has a LAPIC (kernel-irqchip=off: no
  KVM LAPIC, nothing to configure).
- An explicit request goes straight to KVM_ENABLE_CAP without the RFC's system-fd
  check and without its warn -> QUIRKED fallback: a refused flag (EINVAL: unknown
  bit, or ENABLE without split irqchip) stops QEMU at start.
- Like the RFC, the flags are set at a fresh power-on only (-incoming and -loadvm
  take the state from the stream), the section is ``needed`` only with split and
  not QUIRKED, and post_load aborts when not split or when KVM refuses; it sets
  the received state's flag directly, as the power-on does (no both-flags check).
"""

from __future__ import annotations

from ..config import SimVM
from ..kvm import IRQCHIP_NONE
from ..seoib import QUIRKED, Board, StartFailure
from .base import QemuDesign, rfc_needed, rfc_post_load, set_state_directly

__all__ = ["AccelProperty"]

DEFAULT_POLICY = QUIRKED


class AccelProperty(QemuDesign):
    """The user's explicit policy, applied at power-on."""

    name = "accel-property"
    knows_section = True
    accel_properties = frozenset({"seoib-policy"})

    def power_on(self, board: Board) -> str:
        if board.vm.irqchip == IRQCHIP_NONE:
            return QUIRKED
        state = board.vm.seoib_policy or DEFAULT_POLICY
        result = board.set_flags(state, "seoib-policy")
        if result < 0:
            raise StartFailure(f"seoib-policy={state}: KVM_ENABLE_CAP(X2APIC_API) failed")
        return state

    def needed(self, vm: SimVM, state: str) -> bool:
        return rfc_needed(vm, state)

    def post_load(self, board: Board, state: str) -> None:
        rfc_post_load(board, state, set_state_directly)
