"""The ways a block reaches its target, on the built-in rules."""

from __future__ import annotations

from seoib.plan.chains import chains
from seoib.plan.fleetclasses import FleetClasses
from seoib.rules.ruleset import load_rules


def test_a_kernel_only_upgrade_under_rfc_v2_may_park_the_build_first() -> None:
    # rfc-v2 picks the policy itself and the kernel changes: besides taking the kernel
    # alone, the block may first park on the quiet design, then take kernel and QEMU.
    ways = chains({"kernel": "6.18.16", "qemu": "11.0.0", "seoib": "rfc-v2"},
                  {"kernel": "6.18.17"}, FleetClasses(load_rules()))
    assert [(c.name, [s.kind for s in c.steps]) for c in ways] == [
        ("kernel-first", ["kernel"]), ("quiet-kernel", ["quiet", "kernel", "qemu"])]
