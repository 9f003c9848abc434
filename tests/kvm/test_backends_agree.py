"""Every register-level case of tests/cases/sim on the simulator and on /dev/kvm.

Both runs must give the same results: every expectation's actual value (ISR and IRR
aside where the kernel processes the LAPIC EOI at delivery, as a nested backend
does) and the final VM state. Cases with high-level steps, or asking for another
kernel than the running one, must be refused by the kvm backend with exit 3.
Skipped, with the reason, only where /dev/kvm is absent or lacks the SEOIB flags.
"""

from __future__ import annotations

from typing import Any

import pytest
from kvm_support import (
    DELIVERY_TIME_EOI,
    TIMING_KEYS,
    all_cases,
    asks_another_kernel,
    is_high_level,
    needs_kvm,
)

from seoib.errors import BadInput
from seoib.kvmhost.backend import KvmBackend
from seoib.query.witness import sim_assumptions
from seoib.rules.ruleset import load_rules
from seoib.sim.scenario import STEPS, run_scenario
from seoib.yamlio import loads_yaml

pytestmark = needs_kvm


@pytest.mark.parametrize(("case", "source"), all_cases())
def test_case_agrees_on_both_backends(case: Any, source: str, backend: KvmBackend) -> None:
    sim = run_scenario(case, source, assume=sim_assumptions(load_rules().resolver))
    refused = is_high_level(case) or asks_another_kernel(case, backend.mask)
    if refused:
        with pytest.raises(BadInput) as info:
            run_scenario(case, source, backend=backend)
        assert info.value.location is not None and info.value.location.source == source
        return
    kvm = run_scenario(case, source, backend=backend)
    assert [(e.step, e.key) for e in kvm.expectations] == [(e.step, e.key) for e in sim.expectations]
    known, why = DELIVERY_TIME_EOI.get(case["name"], ({}, ""))
    differences = []
    for s, k in zip(sim.expectations, kvm.expectations, strict=True):
        if backend.eoi_at_delivery and s.key in TIMING_KEYS:
            continue
        wanted = known.get(s.key, s.actual) if backend.eoi_at_delivery else s.actual
        if k.actual != wanted:
            differences.append(f"line {s.line}: {s.key}: sim {s.actual!r}, kvm {k.actual!r}")
    assert not differences, "\n".join([*differences, why])
    assert kvm.state == sim.state


def test_a_register_level_case_runs_on_the_kernel(backend: KvmBackend) -> None:
    # Not vacuous: the kernel answers differently from a host spec it is not.
    case = {
        "steps": [
            {"check_extension": {"fd": "system"}},
            {"create_vm": {"irqchip": "split", "vcpu": False}},
            {"check_extension": {"fd": "vm"}},
            {"expect": {"last_result": backend.mask}},
        ]
    }
    result = run_scenario(case, "inline.yaml", backend=backend)
    assert result.passed, result.expectations


# One harmless use of every register-level step; a new register step must say how it is written.
REGISTER_SAMPLES = {
    "create_vm": "{irqchip: split}", "create_irqchip": "split", "create_vcpu": "",
    "check_extension": "{fd: vm}", "enable_cap": "0x1", "set_cpuid": "{x2apic: true}",
    "guest_write_svr": "0x1ff", "set_lapic": "{svr: 0x1ff}",
    "rte": "{pin: 3, vector: 0x40, trigger: level}", "line": "{pin: 3, level: 0}", "run": "",
    "guest_eoi": "", "guest_eoir": "0x40",
}


def test_register_samples_cover_every_register_step() -> None:
    assert set(REGISTER_SAMPLES) == {n for n, d in STEPS.items() if d.level == "register"}


@pytest.mark.parametrize("name", sorted(REGISTER_SAMPLES))
def test_the_steps_after_which_the_cpuid_is_fixed_are_the_kernels(name: str, backend: KvmBackend) -> None:
    # kvm_set_cpuid refuses a change once the vCPU has run: the steps the tables mark as
    # the guest's (StepDef.guest) must be exactly those that make the kernel refuse.
    step = f"{name}: {REGISTER_SAMPLES[name]}" if REGISTER_SAMPLES[name] else name
    case = loads_yaml("steps:\n  - create_vm: {irqchip: split}\n  - set_cpuid: {x2apic: true}\n"
                      f"  - {step}\n  - set_cpuid: {{x2apic: false}}\n  - expect: {{last_result: 0}}\n",
                      "cpuid.yaml")
    sim, kvm = run_scenario(case, "cpuid.yaml"), run_scenario(case, "cpuid.yaml", backend=backend)
    assert sim.expectations[0].actual == kvm.expectations[0].actual
    assert (kvm.expectations[0].actual != 0) == STEPS[name].guest
