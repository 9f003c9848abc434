"""The successive-EOI bound, on the simulator and on the running kernel's in-kernel IOAPIC.

arch/x86/kvm/ioapic.c kvm_ioapic_update_eoi_one() re-services a level line that is
still high at every EOI until its count reaches IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT
(10000); that EOI defers the re-delivery (schedule_delayed_work, HZ / 100). The
scenario below takes 10000 interrupts with the line held high: after the 9999th
EOI the pin is delivered again (Remote IRR set, the vector pending), after the
10000th it is not. It takes about ten seconds on a nested kernel.
"""

from __future__ import annotations

from typing import Any

from kvm_support import needs_kvm

from seoib.kvmhost.backend import KvmBackend
from seoib.sim.ioapic import SUCCESSIVE_EOI_LIMIT
from seoib.sim.scenario import run_scenario

pytestmark = needs_kvm


def _held_line(irqchip: str) -> dict[str, Any]:
    steps: list[Any] = [{"create_vm": {"irqchip": irqchip}}, {"set_cpuid": {"x2apic": True}},
                        {"rte": {"pin": 2, "vector": 0x40, "trigger": "level"}},
                        {"line": {"pin": 2, "level": 1}}]
    steps += ["run", "guest_eoi"] * (SUCCESSIVE_EOI_LIMIT - 1)
    steps.append({"expect": {"remote_irr": {2: 1}, "irr": {0x40: 1}}})
    steps += ["run", "guest_eoi", {"expect": {"remote_irr": {2: 0}, "irr": {0x40: 0}}}]
    return {"steps": steps}


def test_the_kernel_defers_at_the_10000th_eoi_as_the_simulator_does(backend: KvmBackend) -> None:
    assert SUCCESSIVE_EOI_LIMIT == 10_000
    case = _held_line("on")
    sim = run_scenario(case, "held-line.yaml")
    kvm = run_scenario(case, "held-line.yaml", backend=backend)
    assert sim.passed, sim.expectations
    assert kvm.passed, kvm.expectations
