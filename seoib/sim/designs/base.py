"""What every QEMU SEOIB design answers, and the RFC's migration half they share.

A design is asked three things: the state a fresh power-on selects (``power_on``;
-incoming and -loadvm never call it), whether the ``x86-seoib-state`` section is
``needed`` when saving, and what its ``post_load`` does with a received state. It
also says which ``-accel kvm`` properties the build knows: QEMU refuses to start
on an unknown accelerator property.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from ..config import SimVM
from ..kvm import IRQCHIP_SPLIT
from ..seoib import QUIRKED, Board, LoadFailure, StartFailure

__all__ = ["QemuDesign", "rfc_needed", "rfc_post_load", "set_state_directly", "try_set_state"]


def try_set_state(board: Board, state: str, why: str) -> bool:
    """The RFC's kvm_try_set_lapic_seoib_state(): QUIRKED needs nothing; otherwise both
    flags must show on the system fd and KVM_ENABLE_CAP must succeed."""
    if state == QUIRKED:
        return True
    if not board.has_seoib_flags():
        board.log(f"{board.who}: KVM_CHECK_EXTENSION(X2APIC_API)={board.system_caps():#x} "
                  "lacks the SEOIB flags")
        return False
    return board.set_flags(state, why) >= 0


def rfc_needed(vm: SimVM, state: str) -> bool:
    """x86_seoib_needed(): ``kvm_irqchip_is_split() && state != QUIRKED``."""
    return vm.irqchip == IRQCHIP_SPLIT and state != QUIRKED


def set_state_directly(board: Board, state: str, why: str) -> bool:
    """KVM_ENABLE_CAP with the state's flag alone, without the RFC's system-fd check."""
    return board.set_flags(state, why) >= 0


def rfc_post_load(board: Board, state: str,
                  setter: Callable[[Board, str, str], bool] = try_set_state) -> None:
    """x86_seoib_post_load(): set the flags on split, abort() if that fails or if not split."""
    if board.vm.irqchip != IRQCHIP_SPLIT:
        board.log(f"{board.who}: post_load: SEOIB state is only valid for split irqchip: abort()")
        raise LoadFailure("dest-abort", "SEOIB state without split irqchip")
    if not setter(board, state, "post_load"):
        board.log(f"{board.who}: post_load: Failed to set KVM LAPIC SEOIB flags: abort()")
        raise LoadFailure("dest-abort", f"post_load cannot set {state}: abort()")


class QemuDesign:
    """Base: a build that never touches the SEOIB flags and knows no section."""

    name: ClassVar[str] = ""
    knows_section: ClassVar[bool] = False
    accel_properties: ClassVar[frozenset[str]] = frozenset()
    ioapic_lookup: ClassVar[str | None] = None  # how an automatic selection reads the IOAPIC
    # Whether the build's own version decides what it does (a gate): runs of designs that
    # do not read it are the same mechanism on every release and may share one result.
    reads_qemu_version: ClassVar[bool] = False

    def check_accel(self, vm: SimVM) -> None:
        """QEMU refuses to start with an -accel property the build does not have
        (vl.c applies -accel options with error_fatal)."""
        if vm.seoib_policy is not None and "seoib-policy" not in self.accel_properties:
            raise StartFailure("-accel kvm,seoib-policy=...: Property 'kvm-accel.seoib-policy' "
                               "not found")

    def power_on(self, board: Board) -> str:
        """The state a fresh power-on leaves KVM in (may raise StartFailure)."""
        return QUIRKED

    def needed(self, vm: SimVM, state: str) -> bool:
        """Whether the migration stream carries ``x86-seoib-state``."""
        return False

    def post_load(self, board: Board, state: str) -> None:
        """Apply a received state (may raise LoadFailure)."""
        raise LoadFailure("refused", "Unknown savevm section 'x86-seoib-state'")
