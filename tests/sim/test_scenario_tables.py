"""The scenario tables: every step and expect key is documented and exercised by a case,
and one table entry is all a new step or expect key needs (parse, run, help, errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.commands.scenario_help import scenario_format, scenario_reference
from seoib.errors import BadInput
from seoib.sim.scenario import EXPECTS, STEPS, ExpectDef, StepDef, run_scenario
from seoib.sim.scenario.expect import NEEDS
from seoib.sim.scenario.steps import LEVELS
from seoib.sim.scenario.values import as_bool, as_int
from seoib.yamlio import load_yaml, loads_yaml

CASES = Path(__file__).resolve().parents[1] / "cases" / "sim"
# The families tests/sim/test_sim_cases.py runs as passing scenarios (invalid.yaml aside).
RUN_FAMILIES = ("kvm_table", "selftest", "check_extension", "enable_cap", "ioapic", "scenarios",
                "measured_kernel")


def _flat(text: str) -> str:
    """The help with its line breaks undone (it is wrapped to the terminal's width)."""
    return " ".join(text.split())


def _used() -> tuple[set[str], set[str]]:
    """Step names and expect keys written in the runnable cases."""
    steps: set[str] = set()
    keys: set[str] = set()
    for family in RUN_FAMILIES:
        for case in load_yaml(CASES / f"{family}.yaml")["cases"]:
            for step in case["steps"]:
                name, arg = (step, None) if isinstance(step, str) else next(iter(step.items()))
                steps.add(name)
                if name == "expect":
                    keys |= set(arg)
    return steps, keys


def test_every_step_and_expect_key_is_exercised_by_a_case() -> None:
    steps, keys = _used()
    assert sorted(set(STEPS) - steps) == [], "a step no case runs"
    assert sorted(set(EXPECTS) - keys) == [], "an expect key no case checks"


@pytest.mark.parametrize("name", list(STEPS))
def test_every_step_is_documented(name: str) -> None:
    entry = STEPS[name]
    assert entry.level in LEVELS
    assert entry.usage.startswith(name) and entry.doc.strip()
    assert entry.parse is not None or entry.bare, "a step is written bare, with an argument, or both"
    assert entry.level == "check" or entry.usage in _flat(scenario_format())
    assert f"``{name}``: {entry.doc}" in _flat(scenario_reference())


@pytest.mark.parametrize("key", list(EXPECTS))
def test_every_expect_key_is_documented(key: str) -> None:
    entry = EXPECTS[key]
    assert entry.needs in NEEDS and entry.doc.strip()
    assert key in scenario_format()
    assert f"``{key}{f': {entry.arg}' if entry.arg else ''}``: {entry.doc}" in _flat(scenario_reference())


# -- a new entry is all it takes ---------------------------------------------------
def _set_result(run: Any, step: Any) -> None:
    run.last_result = step.arg


SET_RESULT = StepDef(
    _set_result, "register", "set_result: N", "makes N the last ioctl result",
    parse=lambda arg, loc, ctx: as_int(arg, "set_result", loc, 0, 255),
)
HAS_VCPU = ExpectDef(
    lambda value, key, loc: as_bool(value, key, loc), lambda t, expected: t.vcpu is not None, "vm",
    "whether the VM has its vCPU",
)
NEW_SCENARIO = """\
steps:
  - create_vm: {irqchip: split, vcpu: false}
  - expect: {has_vcpu: false}
  - create_vcpu
  - set_result: 7
  - expect: {has_vcpu: true, last_result: 7}
"""


@pytest.fixture
def new_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STEPS, "set_result", SET_RESULT)
    monkeypatch.setitem(EXPECTS, "has_vcpu", HAS_VCPU)


def test_a_registered_step_and_expect_key_run(new_entries: None) -> None:
    result = run_scenario(loads_yaml(NEW_SCENARIO, "new.yaml"), "new.yaml")
    assert [(e.line, e.key, e.actual, e.passed) for e in result.expectations] == [
        (3, "has_vcpu", False, True),
        (6, "has_vcpu", True, True),
        (6, "last_result", 7, True),
    ]


def test_a_registered_step_is_validated_with_its_location(new_entries: None) -> None:
    bad = NEW_SCENARIO.replace("set_result: 7", "set_result: 300")
    with pytest.raises(BadInput, match=r"set_result must be in 0\.\.255") as info:
        run_scenario(loads_yaml(bad, "new.yaml"), "new.yaml")
    assert info.value.location is not None and info.value.location.line == 5
    with pytest.raises(BadInput, match=r"'set_result' \(it needs an argument\); steps: .*set_result"):
        run_scenario(loads_yaml("steps: [set_result]\n", "new.yaml"), "new.yaml")
    with pytest.raises(BadInput, match=r"unknown expect key 'nope' .*has_vcpu"):
        run_scenario(loads_yaml("steps: [{expect: {nope: 1}}]\n", "new.yaml"), "new.yaml")


def test_a_registered_step_and_expect_key_reach_the_help(new_entries: None) -> None:
    assert "set_result: N" in _flat(scenario_format()) and "has_vcpu" in scenario_format()
    reference = scenario_reference()
    assert "``set_result``: makes N the last ioctl result" in reference
    assert "``has_vcpu``: whether the VM has its vCPU" in reference


# -- every entry's parser refuses with a location, never with a crash -------------
_JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=8) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from([*STEPS, "expect"]), key=st.sampled_from(list(EXPECTS)), junk=_JUNK)
def test_any_argument_runs_or_is_refused_at_its_line(name: str, key: str, junk: Any) -> None:
    arg = {key: junk} if name == "expect" else junk
    data = {"steps": [{"create_vm": "split"}, {name: arg}]}
    try:
        run_scenario(data, "junk.yaml")
    except BadInput as err:
        assert err.location is not None and err.location.source == "junk.yaml"


def test_the_kvm_backend_plugs_into_the_runners_seam() -> None:
    # Checked on the class: constructing it needs /dev/kvm.
    from seoib.kvmhost.backend import HIGH_LEVEL_STEPS, SESSION_EXPECTS, KvmBackend
    from seoib.sim.scenario import Backend

    seam = [n for n in vars(Backend) if not n.startswith("_")]
    assert {"check", "system_kvm", "bench"} <= set(seam)
    assert all(callable(getattr(KvmBackend, n)) for n in seam if n != "name") and KvmBackend.name == "kvm"
    # What it refuses comes from the tables, so a new high-level step is refused too.
    assert set(HIGH_LEVEL_STEPS) == {n for n, d in STEPS.items() if d.level == "session"} - {"reset"}
    assert set(SESSION_EXPECTS) == {k for k, d in EXPECTS.items() if d.needs == "session"}

