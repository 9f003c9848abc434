"""Properties of releases past the rules: inherited along the lineage, never refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.cli import main
from seoib.rules.ruleset import RuleSet, load_rules

RS: RuleSet = load_rules()
NEWEST_KERNEL = RS.kernels.mainline[-1]
NEWEST_QEMU = RS.resolver.qemu.newest


def _after(series: tuple[int, int]):  # type: ignore[no-untyped-def]
    return st.tuples(st.integers(series[0], series[0] + 30), st.integers(0, 30)).filter(
        lambda s: s > series)


@settings(max_examples=60, deadline=None)
@given(_after(tuple(map(int, NEWEST_KERNEL.split(".")))), st.integers(0, 200))
def test_a_newer_kernel_inherits_the_newest_mainline(series: tuple[int, int], point: int) -> None:
    text = f"{series[0]}.{series[1]}.{point}"
    res = RS.kernels.resolve(text)
    assert res.capabilities == RS.kernels.resolve(NEWEST_KERNEL).capabilities
    assert res.inferred and NEWEST_KERNEL in res.inferred


@settings(max_examples=60, deadline=None)
@given(_after(NEWEST_QEMU.version.series))
def test_a_newer_qemu_registers_its_own_types_within_the_deletion_window(
        series: tuple[int, int]) -> None:
    r = RS.resolver
    q = r.qemu.resolve(f"{series[0]}.{series[1]}.0")
    assert r.qemu.is_inferred(q) and q.seoib == NEWEST_QEMU.seoib
    for alias in ("q35", "pc"):
        target = r.qemu.alias_target(q, alias)
        assert target is not None and target.endswith(f"-{series[0]}.{series[1]}")
        assert r.qemu.registers(q, r.machines.parse(target))
    window = (series[0] - (r.qemu.deletion_major or 0), series[1])
    lo = q.machines_min
    assert lo is not None and lo.parts > window
    assert lo.parts >= NEWEST_QEMU.machines_min.parts  # never registers what the newest dropped


@pytest.mark.parametrize("machine", ["q35", "pc", "pc-q35-rhel9.4.0"])
def test_a_scenario_boots_on_a_qemu_newer_than_the_rules(machine: str, tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"host: {{kernel: 7.2.1, qemu: 11.1.0}}\nvm: {{machine: {machine}}}\n"
                        "steps:\n  - boot\n  - expect: {outcome: ok}\n")
    assert main(["simulate", str(scenario)]) == 0
