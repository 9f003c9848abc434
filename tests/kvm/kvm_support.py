"""Shared by tests/kvm: the cases of tests/cases/sim, whether /dev/kvm can run them,
and how a case's run on the kvm backend is compared with the simulator's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seoib.kvmhost import usable
from seoib.kvmhost.backend import HIGH_LEVEL_STEPS, SESSION_EXPECTS
from seoib.yamlio import load_yaml

CASES = Path(__file__).resolve().parents[1] / "cases" / "sim"
# Families of scenario cases (invalid.yaml and witnesses.yaml have other shapes).
FAMILIES = (
    "kvm_table", "selftest", "check_extension", "enable_cap", "ioapic", "scenarios", "measured_kernel"
)

KVM_REASON = usable()
needs_kvm = pytest.mark.skipif(KVM_REASON is not None, reason=f"no usable /dev/kvm: {KVM_REASON}")


def all_cases() -> list[Any]:
    """``pytest.param(case, source)`` for every scenario case, id ``family: name``."""
    params = []
    for family in FAMILIES:
        path = CASES / f"{family}.yaml"
        for case in load_yaml(path)["cases"]:
            params.append(pytest.param(case, str(path), id=f"{family}: {case['name']}"))
    return params


def _step_names(case: Any) -> list[str]:
    return [s if isinstance(s, str) else next(iter(s)) for s in case["steps"]]


def is_high_level(case: Any) -> bool:
    """Boots, device events, migrations, snapshots or session expectations."""
    names = _step_names(case)
    if any(n in HIGH_LEVEL_STEPS for n in names):
        return True
    if "reset" in names and "create_vm" not in names[: names.index("reset")]:
        return True
    expects = [s["expect"] for s in case["steps"] if isinstance(s, dict) and "expect" in s]
    return any(k in SESSION_EXPECTS for e in expects for k in e)


def asks_another_kernel(case: Any, mask: int) -> bool:
    """The case's host is a kernel other than this one (another mask, no split irqchip)."""
    host = case.get("host") or {}
    if not isinstance(host, dict):
        return False
    return int(host.get("x2apic-api", 0xF)) != mask or host.get("split-irqchip") is False


# Keys whose value depends on when the kernel processes the LAPIC EOI: a nested
# backend that EOIs at delivery leaves ISR empty and the vector out of IRR sooner.
TIMING_KEYS = ("isr", "irr")

# Cases whose outcome on a kernel that EOIs at delivery follows from that timing
# alone: the kvm-side values and why. Everything else in them is compared as usual.
DELIVERY_TIME_EOI = {
    "in-kernel QUIRKED hides the feature; the in-kernel IOAPIC (0x11) gets the broadcast": (
        {"remote_irr": {2: 1}},
        "KVM's IOAPIC gets the EOI at delivery while the line is still high and re-delivers",
    ),
    "the suppress decision is read live at each EOI, not cached at delivery": (
        {"eoi_exits": 0, "remote_irr": {2: 1}},
        "the decision is taken at delivery (ENABLED, SVR bit 12), before the switch to DISABLED",
    ),
}
