"""Which KVM answered and when it processes a guest's EOI: detected, reported, and marked.

The implementation is read from the loaded modules (faked here from a directory
tree, so these run anywhere); the EOI timing is measured on /dev/kvm where there is
one, and ``seoib simulate --backend kvm`` says both, marking every value that
depends on the timing and listing every EOI exit it held and handed on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kvm_support import needs_kvm

from seoib.cli import main
from seoib.kvmhost.host import KvmHost, detect


def _host(tmp_path: Path, modules: list[str], flags: str) -> tuple[str, str]:
    sys_module = tmp_path / "module"
    for name in modules:
        (sys_module / name).mkdir(parents=True)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: fpu {flags} apic\n")
    return str(sys_module), str(cpuinfo)


@pytest.mark.parametrize(("modules", "flags", "name", "module"), [
    (["kvm", "kvm_intel"], "vmx", "vmx", "kvm_intel"),
    (["kvm", "kvm_amd"], "svm", "svm", "kvm_amd"),
    (["kvm", "kvm_pvm"], "hypervisor", "pvm", "kvm_pvm"),
    (["kvm"], "hypervisor", "other", "kvm"),
    ([], "vmx", "none", None),
], ids=["vmx", "svm", "pvm", "other", "none"])
def test_the_implementation_is_read_from_the_loaded_modules(tmp_path: Path, modules: list[str],
                                                            flags: str, name: str,
                                                            module: str | None) -> None:
    sys_module, cpuinfo = _host(tmp_path, modules, flags)
    host = detect(measure=False, sys_module=sys_module, cpuinfo=cpuinfo)
    assert (host.implementation, host.module, host.eoi_at_delivery) == (name, module, None)
    assert any("CPU flags" in e for e in host.evidence)
    assert "EOI timing not measured" in host.describe()


def test_a_timing_that_cannot_be_measured_says_why(tmp_path: Path) -> None:
    sys_module, cpuinfo = _host(tmp_path, ["kvm", "kvm_intel"], "vmx")
    host = detect(str(tmp_path / "no-such-device"), sys_module=sys_module, cpuinfo=cpuinfo)
    assert host.eoi_at_delivery is None
    assert any("cannot run a guest here" in e for e in host.evidence)


def test_the_description_says_what_depends_on_the_timing() -> None:
    late = KvmHost("pvm", "kvm_pvm", (), True).describe()
    assert "at delivery" in late and "differ from hardware" in late
    assert "when the guest writes it" in KvmHost("vmx", "kvm_intel", (), False).describe()


@needs_kvm
def test_this_host_is_measured() -> None:
    host = detect()
    assert host.implementation in ("vmx", "svm", "pvm", "other")
    assert isinstance(host.eoi_at_delivery, bool)


HELD = """\
steps:
  - create_vm: {irqchip: split}
  - set_cpuid: {x2apic: true}
  - rte: {pin: 2, vector: 0x40, trigger: level}
  - line: {pin: 2, level: 1}
  - run
  - expect: {remote_irr: {2: 1}, eoi_exits: 1}
  - line: {pin: 2, level: 0}
  - guest_eoi
  - expect: {remote_irr: {2: 0}, eoi_exits: 1}
"""


@needs_kvm
def test_simulate_on_the_kernel_says_which_kvm_and_marks_what_the_timing_decides(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "held.yaml"
    scenario.write_text(HELD)
    assert main(["simulate", "--backend", "kvm", "--format", "json", str(scenario)]) == 0
    out = json.loads(capsys.readouterr().out)
    backend = out["backend"]
    host = detect()
    assert backend["kvm"]["implementation"] == host.implementation
    assert backend["kvm"]["eoi_at_delivery"] == host.eoi_at_delivery
    marked = [e["depends_on"] for e in out["expectations"]]
    if host.eoi_at_delivery:
        # The exit came at the delivery (step 5) and reached the IOAPIC at the guest's EOI.
        assert backend["held_eoi_exits"] == [{"step": 5, "vector": 0x40, "handed_at": 8}]
        assert marked == [["eoi_at_delivery"], [], ["eoi_at_delivery"], []]
    else:
        assert backend["held_eoi_exits"] == [] and marked == [[], [], [], []]
    assert main(["simulate", "--backend", "kvm", str(scenario)]) == 0
    text = capsys.readouterr().out
    assert f"kvm: {host.describe()}" in text
    assert ("[EOI timing]" in text) == bool(host.eoi_at_delivery)
