"""The public simulator API, case by case (tests/cases/sim/witnesses.yaml)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from seoib.errors import Location
from seoib.sim import (
    BOOT_OUTCOMES,
    MIGRATION_OUTCOMES,
    SimHost,
    SimVM,
    simulate_boot,
    simulate_migration,
    simulate_snapshot,
)
from seoib.sim.scenario import parse_host, parse_vm
from seoib.yamlio import load_yaml

CASES = Path(__file__).resolve().parents[1] / "cases" / "sim" / "witnesses.yaml"


def _params() -> list[Any]:
    return [pytest.param(c, id=c["name"]) for c in load_yaml(CASES)["cases"]]


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return list(actual) == expected
    return expected == actual


@pytest.mark.parametrize("case", _params())
def test_witness_case(case: Any) -> None:
    loc = Location(str(CASES), case.line)
    vm = parse_vm(case["vm"], loc)
    if case["kind"] == "boot":
        w = simulate_boot(parse_host(case["host"], loc), vm)
        assert w.outcome in BOOT_OUTCOMES
    else:
        fn = simulate_migration if case["kind"] == "migration" else simulate_snapshot
        w = fn(parse_host(case["src"], loc), parse_host(case["dst"], loc), vm)
        assert w.outcome in MIGRATION_OUTCOMES
    seen = asdict(w)
    seen["counters"] = dict(w.counters)
    for key, expected in case["expect"].items():
        assert _subset(expected, seen[key]), f"{key}: expected {expected!r}, got {seen[key]!r}"


def test_migration_outcome_is_first_finding() -> None:
    w = simulate_snapshot(
        SimHost(seoib="none"),
        SimHost(seoib="rfc-v2"),
        SimVM(machine="pc-q35-2.7", ioapic=0x11, globals=(("ioapic.version", "0x11"),),
              guest="windows-hyperv"),
    )
    assert w.findings == ("cpu-model-change", "storm")
    assert w.outcome == w.findings[0]


def test_events_are_bounded() -> None:
    w = simulate_boot(SimHost(), SimVM(guest="any"), irqs=500)
    assert len(w.events) <= 64
    assert w.events[-1].startswith("... ")


def test_irqs_scale_the_counters() -> None:
    few = simulate_boot(SimHost(seoib="rfc-v2"), SimVM(guest="linux"), irqs=3)
    many = simulate_boot(SimHost(seoib="rfc-v2"), SimVM(guest="linux"), irqs=30)
    assert (few.counters["events"], many.counters["events"]) == (3, 30)
    assert many.counters["deliveries"] == 30


def test_negative_irqs_is_refused() -> None:
    with pytest.raises(ValueError, match="irqs"):
        simulate_boot(SimHost(), SimVM(), irqs=-1)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (SimHost, {"seoib": "rfc-v3"}),
        (SimHost, {"x2apic_api": 0x10}),
        (SimHost, {"qemu_version": "ten"}),
        (SimHost, {"seoib": "machine-gated"}),  # its gate needs the QEMU version
        (SimVM, {"ioapic": 0x20, "globals": (("ioapic.version", "0x11"),)}),
        (SimVM, {"irqchip": "maybe"}),
        (SimVM, {"ioapic": 0x30}),
        (SimVM, {"guest": "plan9"}),
        (SimVM, {"seoib_policy": "auto"}),
    ],
)
def test_configs_reject_values_outside_the_model(cls: type, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        cls(**kwargs)
