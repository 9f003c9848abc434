"""One verdict cache: the same class key whoever asks, one tally, one disagreement rule."""

from __future__ import annotations

from typing import Any

import pytest

from seoib.errors import Location
from seoib.plan.fleetclasses import FleetClasses
from seoib.query.api import Engine
from seoib.query.classes import ClassSolver, StackClass, VMClass, stack_classes, vm_classes
from seoib.query.verdict_cache import CLASS_FIELDS, VerdictCache
from seoib.rules.ruleset import RuleSet


def _verdict(witness: dict[str, Any]) -> dict[str, Any]:
    return {"command": "policy", "host": {"kernel": "k"}, "vm": {"machine": "m"}, "policy": "quirked",
            "kvm_flags": 4, "lvr_seoib": True, "suppression_honored": False, "outcome": "storm",
            "severity": "block", "alternatives": [], "findings": [], "reasons": [],
            "notes": [], "witness": witness}


@pytest.mark.parametrize(("witness", "validated", "disagreements"), [
    ({"ran": True, "agrees": True, "outcome": "storm", "counters": {}}, 1, []),
    ({"ran": True, "agrees": False, "outcome": "ok", "counters": {},
      "differences": ["outcome: solver storm vs simulator ok"]}, 1,
     [{"command": "policy", "outcome": "storm",
       "differences": ["outcome: solver storm vs simulator ok"]}]),
    # the simulator has no model of the stack: not reproduced, so a disagreement
    ({"ran": False, "agrees": False, "outcome": None, "counters": {},
      "differences": ["the simulator has no model of guest 'beos'"]}, 0,
     [{"command": "policy", "outcome": "storm",
       "differences": ["the simulator has no model of guest 'beos'"]}]),
    # the simulator was not asked: neither validated nor a disagreement
    ({"ran": False, "agrees": None, "outcome": None, "counters": {}}, 0, []),
], ids=["agrees", "differs", "no-model", "not-asked"])
def test_tally(witness: dict[str, Any], validated: int, disagreements: list[Any]) -> None:
    cache = VerdictCache()
    cache.add(("policy",), _verdict(witness))
    assert (len(cache), cache.validated, cache.disagreements) == (1, validated, disagreements)


def test_kept_fields() -> None:
    witness = {"ran": True, "agrees": True, "outcome": "storm", "counters": {}}
    summary = VerdictCache().add(("k",), _verdict(witness))
    assert set(summary) == set(CLASS_FIELDS) & set(_verdict(witness))
    whole = VerdictCache(keep=None)
    verdict = _verdict(witness)
    assert whole.add(("k",), verdict) is verdict and whole.get(("k",)) is verdict


def _pick(rules: RuleSet) -> tuple[StackClass, StackClass, VMClass]:
    stacks = stack_classes(rules, qemus=["11.0"])
    src = next(s for s in stacks if s.design == "rfc-v2" and "7.0" in s.kernel.label)
    dst = next(s for s in stacks if s.design == "none" and "4.8" in s.kernel.label)
    vm = next(v for v in vm_classes(rules, guests=["windows-hyperv"])
              if v.machine.machine.startswith("pc-q35") and v.irqchip == "split")
    return src, dst, vm


def _host(s: StackClass) -> dict[str, str]:
    return {"kernel": s.kernel.release, "qemu": s.qemu, "seoib": s.design}


def _vm(v: VMClass) -> dict[str, Any]:
    spec = v.spec()
    return {k: val for k, val in (("machine", spec.machine), ("irqchip", spec.irqchip),
                                  ("ioapic", spec.ioapic), ("x2apic", spec.x2apic),
                                  ("guest", spec.guest)) if val is not None}


def test_one_class_key_for_every_caller(rules: RuleSet) -> None:
    """Engine (spec texts), ClassSolver (classes) and the plan Fleet (plan entries) asking
    the same questions store them under the same keys, with the same outcomes."""
    src, dst, vmc = _pick(rules)
    engine, solver, fleet = Engine(rules), ClassSolver(rules), FleetClasses(rules)
    where = Location("plan.yaml", 1)
    boot = fleet.vm_class(vmc.spec(), fleet.host_class(_host(src), where))
    to = fleet.host_class(_host(dst), where)
    outcomes = [
        (engine.policy(_host(src), _vm(vmc))["outcome"], solver.policy(src, vmc)["outcome"],
         fleet.boot(boot)["outcome"]),
        (engine.migrate(_host(src), _host(dst), _vm(vmc))["outcome"],
         solver.migrate(src, dst, vmc)["outcome"], fleet.migrate(boot, to)["outcome"]),
        (engine.migrate(_host(src), _host(dst), _vm(vmc), snapshot=True)["outcome"],
         solver.migrate(src, dst, vmc, snapshot=True)["outcome"],
         fleet.snapshot(boot, to)["outcome"]),
    ]
    assert all(len(set(o)) == 1 for o in outcomes), outcomes
    keys = set(engine.verdicts.keys())
    assert len(keys) == 3
    assert set(solver.cache.keys()) == keys == set(fleet.cache.keys())
    assert engine.verdicts.validated == solver.validated == fleet.validated == 3
