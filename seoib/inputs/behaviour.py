"""The measured SEOIB behaviour of this host's kernel, held against the rules.

``seoib probe`` measures the mode table on /dev/kvm (``seoib.kvmhost.modetable``)
and asks the rules what they predict for the measured mask: for each irqchip and
mode, a VM under the accel-property design with the matching policy (quirked =
QUIRKED, respected = ENABLED, not-advertised = DISABLED), compared on LVR bit 24,
whether suppression is honoured and whether the VM fails to start (EINVAL). The
other ioctl answers (the mask per fd, the ENABLE_CAP calls that must fail) are held
against the simulator's KVM model, which the rules are validated against. Where
/dev/kvm is not usable nothing is measured and a note says why.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .probe_model import ProbeResult, behaviour_lines

__all__ = ["behaviour_lines", "compare", "with_behaviour"]

_POLICY = {"QUIRKED": "quirked", "ENABLED": "respected", "DISABLED": "not-advertised"}


def _rules_qemu(rs: Any, probed: str | None) -> str:
    """The probed QEMU where the rules know it, else their newest release (any will do:
    the prediction compared here is KVM's, the same under every QEMU)."""
    catalog = rs.resolver.qemu
    if probed:
        try:
            catalog.resolve(probed)
            return probed
        except Exception:  # a QEMU the rules do not list: fall back below
            pass
    return str(max(catalog.releases.values(), key=lambda r: r.version).version)


def _sim_checks(mask: int) -> dict[str, str]:
    """What the simulator's KVM answers for the same ioctls on a kernel with ``mask``."""
    from seoib.sim.kvm import Kvm, errno_name

    kvm = Kvm(mask, True)
    out = {"system fd KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API)": hex(kvm.check_extension_x2apic_api())}
    for irqchip, what in (("off", "no irqchip"), ("split", "split irqchip"), ("on", "in-kernel irqchip")):
        vm = kvm.create_vm()
        if irqchip != "off":
            vm.create_irqchip(irqchip)
        out[f"VM fd mask, {what}"] = hex(vm.check_extension_x2apic_api())
    for irqchip, flags, what in (
        ("split", 0xC, "ENABLE and DISABLE together, split"),
        ("split", 0x10, "an unknown bit, split"),
        ("off", 0x4, "ENABLE without an irqchip"),
        ("off", 0x8, "DISABLE without an irqchip"),
    ):
        vm = kvm.create_vm()
        if irqchip != "off":
            vm.create_irqchip(irqchip)
        out[f"KVM_ENABLE_CAP({flags:#x}), {what}"] = errno_name(vm.enable_cap_x2apic_api(flags))
    return out


def compare(table: dict[str, Any], qemu: str | None, rules: Any = None) -> dict[str, Any]:
    """The measured table plus, per row and check, the prediction and whether it holds."""
    from seoib.query.api import Engine

    engine = Engine(rules, witness=False)
    mask = table["x2apic-api"]
    version = _rules_qemu(engine.rs, qemu)
    host = f"x2apic-api={mask},qemu={version},seoib=accel-property"
    disagreements = []
    modes = []
    for row in table["modes"]:
        vm = f"machine=q35,irqchip={row['irqchip']},ioapic=0x20,seoib-policy={_POLICY[row['mode']]}"
        verdict = engine.policy(host, vm)
        start_fails = verdict["outcome"] == "start-fails"
        predicted = {"start_fails": start_fails}
        if not start_fails:
            predicted["lvr_bit24"] = int(bool(verdict["lvr_seoib"]))
            predicted["suppression_honored"] = bool(verdict["suppression_honored"])
        measured = {"start_fails": row["enable_cap"] != "ok"}
        if not measured["start_fails"]:
            measured["lvr_bit24"] = row["lvr_bit24"]
            measured["suppression_honored"] = row["suppression_honored"]
        agrees = measured == predicted
        if not agrees:
            disagreements.append(f"{row['irqchip']} {row['mode']}: measured {measured}, rules {predicted}")
        modes.append(dict(row, rules=predicted, agrees=agrees))
    expected = _sim_checks(int(mask, 16))
    checks = []
    for check in table["checks"]:
        want = expected.get(check["name"])
        agrees = want == check["result"]
        if not agrees:
            disagreements.append(f"{check['name']}: measured {check['result']}, simulator {want}")
        checks.append(dict(check, expected=want, agrees=agrees))
    return dict(
        table,
        modes=modes,
        checks=checks,
        rules_host=host,
        as_rules_predict=not disagreements,
        disagreements=disagreements,
    )


def with_behaviour(result: ProbeResult, kvm_path: str, rules: Any = None) -> ProbeResult:
    """``result`` with the measured behaviour where ``kvm_path`` is usable, else a note."""
    from seoib.kvmhost import usable
    from seoib.kvmhost.modetable import measure

    reason = usable(kvm_path)
    if reason is not None:
        note = f"behaviour not measured ({reason}): the mask alone decides"
        return dataclasses.replace(result, notes=(*result.notes, note))
    behaviour = compare(measure(kvm_path).to_dict(), result.spec.get("qemu"), rules)
    verdict = "behaves as the rules predict" if behaviour["as_rules_predict"] else "DIFFERS from the rules"
    note = (f"measured the SEOIB mode table on {kvm_path} in {behaviour['seconds']} s: "
            f"the kernel {verdict} for x2apic-api {behaviour['x2apic-api']}")
    return dataclasses.replace(result, behaviour=behaviour, notes=(*result.notes, note))
