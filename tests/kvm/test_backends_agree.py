"""Every register-level case of tests/cases/sim on the simulator and on /dev/kvm.

Both runs must give the same results: every expectation's actual value (ISR and IRR
aside where the kernel processes the LAPIC EOI at delivery, as a nested backend
does) and the final VM state. Cases with high-level steps, or asking for another
kernel than the running one, must be refused by the kvm backend with exit 3.
Skipped, with the reason, only where /dev/kvm is absent or lacks the SEOIB flags.
"""

from __future__ import annotations

from collections.abc import Iterator
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

from engine.errors import BadInput
from engine.kvmhost.backend import KvmBackend
from engine.sim.scenario import run_scenario

pytestmark = needs_kvm


@pytest.fixture(scope="module")
def backend() -> Iterator[KvmBackend]:
    kvm = KvmBackend()
    yield kvm
    kvm.close()


@pytest.mark.parametrize(("case", "source"), all_cases())
def test_case_agrees_on_both_backends(case: Any, source: str, backend: KvmBackend) -> None:
    sim = run_scenario(case, source)
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
