"""Property: for random rule-consistent configurations, solver and simulator agree."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seoib.errors import Location, SpecError
from seoib.query.verdicts import migrate_verdict, policy_verdict
from seoib.rules.ruleset import RuleSet, load_rules
from seoib.rules.specs import HostSpec, VMSpec

RULES: RuleSet = load_rules()
_R = RULES.resolver
MAINLINE = _R.kernels.mainline
QEMUS = [str(q.version) for q in _R.qemu.releases.values()]
DESIGNS = sorted(_R.designs)
GUESTS = sorted(_R.guests)
FAMILIES = sorted(_R.machines.families)


@st.composite
def hosts(draw: st.DrawFn) -> HostSpec:
    series = draw(st.sampled_from(MAINLINE))
    kernel = series if draw(st.booleans()) else f"{series}.{draw(st.integers(0, 40))}"
    mask = draw(st.sampled_from([None, None, 0x0, 0x3, 0xB, 0xF]))
    qemu = draw(st.sampled_from(QEMUS)) + draw(st.sampled_from(["", ".0", ".3"]))
    return HostSpec(kernel=kernel, x2apic_api=mask, qemu=qemu,
                    seoib=draw(st.sampled_from([None, *DESIGNS])), origin=Location("hypothesis"))


@st.composite
def vms(draw: st.DrawFn) -> VMSpec:
    family = draw(st.sampled_from(FAMILIES))
    fam = _R.machines.families[family]
    if fam.versioned:
        parts = draw(st.sampled_from(sorted(_R.machines.versions)))
        machine = f"{family}-{'.'.join(map(str, parts))}"
        if draw(st.integers(0, 4)) == 0 and fam.alias:
            machine = fam.alias
    else:
        machine = family
    return VMSpec(
        machine=machine,
        irqchip=draw(st.sampled_from([None, "on", "split", "off"])),
        ioapic=draw(st.sampled_from([None, "0x11", "0x20"])),
        x2apic=draw(st.sampled_from([None, True, False])),
        guest=draw(st.sampled_from(GUESTS)),
        seoib_policy=draw(st.sampled_from([None, "quirked", "respected", "not-advertised"])),
        origin=Location("hypothesis"),
    )


_SETTINGS = settings(max_examples=300, deadline=None,
                     suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@_SETTINGS
@given(hosts(), vms())
def test_boot_verdicts_agree(host: HostSpec, vm: VMSpec) -> None:
    try:
        h = _R.host(host)
        v = _R.vm(vm, h)
    except SpecError:
        return  # e.g. a machine version a family never had: not a configuration
    verdict = policy_verdict(RULES, h, v)
    assert verdict["witness"]["agrees"], verdict["witness"]["differences"]


@_SETTINGS
@given(hosts(), hosts(), vms(), st.booleans())
def test_migration_verdicts_agree(src: HostSpec, dst: HostSpec, vm: VMSpec, snapshot: bool) -> None:
    try:
        s, d = _R.host(src), _R.host(dst)
        v = _R.vm(vm, s)
    except SpecError:
        return
    verdict = migrate_verdict(RULES, s, d, v, snapshot=snapshot)
    assert verdict["witness"]["agrees"], verdict["witness"]["differences"]
