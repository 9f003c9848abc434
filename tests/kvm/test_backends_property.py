"""Random register-level histories on the simulator and on /dev/kvm give the same answers.

A history: an irqchip, KVM_ENABLE_CAP calls with any flags, CPUID (before the guest
first runs, as a VMM sets it, and again later), guest and host writes of SVR (the APIC software-enabled
or not), and level interrupts
that the guest accepts and EOIs (the line low before acceptance, so when the kernel
processes the EOI does not matter), edge interrupts sharing their vector, directed
EOIs and vCPU resets. After every step the ioctl's answer, LVR bit 24,
SVR bit 12, the EOI exits and Remote IRR are compared.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kvm_support import needs_kvm

from seoib.kvmhost.backend import KvmBackend
from seoib.sim.scenario import run_scenario

pytestmark = needs_kvm

FLAGS = st.sampled_from([0x0, 0x1, 0x2, 0x3, 0x4, 0x8, 0xC, 0x10, 0x5, 0xA])
# With and without bit 8: a software-disabled LAPIC drops fixed interrupts.
SVR = st.sampled_from([0x1FF, 0x11FF, 0x11F0, 0x13FF, 0xFF, 0x10FF])
INTERRUPT = [
    {"line": {"pin": 2, "level": 1}},
    {"line": {"pin": 2, "level": 0}},
    "run",
    "guest_eoi",
]
# The expected values are placeholders: the test compares the actual values of both runs.
EDGE_INTERRUPT = [  # an edge pin sharing the level pin's vector (TMR clear)
    {"line": {"pin": 3, "level": 1}},
    {"line": {"pin": 3, "level": 0}},
    "run",
    "guest_eoi",
]
OBSERVE = {
    "expect": {"lvr_bit24": 0, "svr_bit12": 0, "eoi_exits": 0, "remote_irr": {2: 0}, "kvm_mode": "QUIRKED"}
}


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    irqchip = draw(st.sampled_from(["split", "on"]))
    steps: list[Any] = [{"create_vm": {"irqchip": irqchip}}]
    for flags in draw(st.lists(FLAGS, max_size=2)):
        steps += [{"enable_cap": flags}, {"expect": {"last_result": "ok"}}]
    steps.append({"set_cpuid": {"x2apic": draw(st.booleans())}})
    steps.append({"rte": {"pin": 2, "vector": 0x40, "trigger": "level"}})
    steps.append({"rte": {"pin": 3, "vector": 0x40, "trigger": "edge"}})
    steps.append(OBSERVE)
    actions = st.one_of(
        FLAGS.map(lambda f: [{"enable_cap": f}, {"expect": {"last_result": "ok"}}]),
        SVR.map(lambda v: [{"guest_write_svr": v}]),
        SVR.map(lambda v: [{"set_lapic": {"svr": v}}]),
        st.just(INTERRUPT),
        st.just(EDGE_INTERRUPT),
        st.just([{"guest_eoir": 0x40}]),
        st.just(["reset", {"rte": {"pin": 2, "vector": 0x40, "trigger": "level"}}]),
        # after the guest ran: refused unless identical, and LVR left alone either way
        st.booleans().map(lambda x: [{"set_cpuid": {"x2apic": x}}, {"expect": {"last_result": "ok"}}]),
    )
    for action in draw(st.lists(actions, min_size=1, max_size=5)):
        steps += [*action, OBSERVE]
    return {"steps": steps}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories())
def test_random_histories_agree(history: dict[str, Any], backend: KvmBackend) -> None:
    sim = run_scenario(history, "history.yaml")
    kvm = run_scenario(history, "history.yaml", backend=backend)
    got = [(e.step, e.key, e.actual) for e in kvm.expectations]
    want = [(e.step, e.key, e.actual) for e in sim.expectations]
    assert got == want, [(w, g) for w, g in zip(want, got, strict=True) if w != g]
    assert kvm.state == sim.state
