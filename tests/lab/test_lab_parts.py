"""The lab's readings that need no KVM: guest counts, shim logs, the host's KVM, plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from seoib.kvmhost.host import detect
from seoib.lab.binary import QemuBinary, elf_build_id
from seoib.lab.context import LabContext
from seoib.lab.guestrun import classify, parse_result
from seoib.lab.plan import make_plan, select_machines
from seoib.lab.shimlog import read_shim_log

HERE = Path(__file__).parent


def cases(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", cases("guest_counts.yaml"), ids=lambda c: c["name"])
def test_guest_counts(case: dict[str, Any]) -> None:
    assert classify(case["result"])[0] == case["outcome"]


def test_the_guest_result_line_is_read_back() -> None:
    console = ("noise\nseoib-lab-guest 1 lvr=0x1050014 svr=0x11ff ioapic=0x20 directed=1 a=60 b=67 "
               "windows_a=60 windows_b=67 rirr_a=1 rirr_eoir=0 rirr_b=1 rirr_end=0 spurious=0\n")
    result = parse_result(console)
    assert result is not None and result["lvr"] == 0x1050014 and result["a"] == 60
    assert parse_result("seoib-lab-guest fault vector=13\n") is None


@pytest.mark.parametrize("case", cases("shim_logs.yaml"), ids=lambda c: c["name"])
def test_shim_logs(tmp_path: Path, case: dict[str, Any]) -> None:
    log = tmp_path / "shim.log"
    log.write_text(case["log"], encoding="utf-8")
    assert read_shim_log(log).seoib_flags == case["flags"]


def test_a_missing_shim_log_is_a_shim_never_loaded(tmp_path: Path) -> None:
    assert not read_shim_log(tmp_path / "absent").loaded


@pytest.mark.parametrize("modules, name, at_delivery", [
    (["kvm", "kvm_intel"], "vmx", False),
    (["kvm", "kvm_pvm"], "pvm", True),
    (["kvm"], "other", None),
])
def test_the_lab_reads_the_kvm_host_as_the_probe_does(tmp_path: Path, modules: list[str], name: str,
                                                       at_delivery: bool | None) -> None:
    """The lab's host.kvm is kvmhost's detect(): the module names the implementation, the EOI
    timing is what was measured (None: not measured), and the lab's note follows it."""
    for m in modules:
        (tmp_path / m).mkdir()
    found = detect(measure=True, sys_module=str(tmp_path), cpuinfo=str(tmp_path / "none"),
                   measurer=lambda _path: at_delivery)
    ctx = LabContext(tmp_path, None, "6.18.44", 0xF, found)  # type: ignore[arg-type]
    kvm = ctx.kvm.as_json()
    assert (kvm["implementation"], kvm["eoi_at_delivery"]) == (name, at_delivery)
    assert kvm["module"] == (modules[-1] if modules else None)
    note = ctx.eoi_note()
    assert (note is None) == (at_delivery is False)
    assert note is None or note.startswith(f"{name}: ")


def test_a_build_id_is_read_from_an_elf_note(tmp_path: Path) -> None:
    import sys

    assert elf_build_id(sys.executable) is None or len(elf_build_id(sys.executable) or "") >= 16
    (tmp_path / "not-elf").write_bytes(b"#!/bin/sh\n")
    assert elf_build_id(str(tmp_path / "not-elf")) is None


def _binary(label_version: str, machines: list[str], design: str | None = None) -> QemuBinary:
    return QemuBinary(path=f"/q/{label_version}", version=label_version, package=None,
                      build_id="x", machines=tuple(machines), default_machine=None, design=design,
                      design_from="test")


def test_machine_types_not_on_kvm_are_left_out_and_patterns_select() -> None:
    b = _binary("7.2.0", ["none", "x-remote", "xenfv-4.2", "pc-q35-7.2", "pc-q35-2.7", "microvm"])
    assert select_machines(b, []) == ["pc-q35-2.7", "pc-q35-7.2", "microvm"]
    assert select_machines(b, ["pc-q35-*"]) == ["pc-q35-2.7", "pc-q35-7.2"]


def test_the_plan_covers_the_matrix_and_migrates_what_both_register() -> None:
    old = _binary("7.2.0", ["pc-q35-2.7", "pc-q35-7.2", "pc-i440fx-7.2"])
    new = _binary("10.0.0", ["pc-q35-2.7", "pc-q35-7.2", "pc-q35-10.0"], design="rfc-v2")
    plan = make_plan([old, new], [])
    kinds = [r.kind for r in plan.runs]
    assert kinds.count("power-on") == (3 + 3) * 10  # 3 irqchip x 3 IOAPIC + one old kernel, per type
    migrations = [(r.args[0].version, r.args[1].version, r.args[2].machine, r.args[4].name)
                  for r in plan.runs if r.kind == "migration"]
    shared = {("7.2.0", "10.0.0"), ("10.0.0", "7.2.0")}
    assert {(s, d) for s, d, m, _ in migrations if s != d} == shared
    assert {m for s, d, m, _ in migrations if s != d} == {"pc-q35-2.7", "pc-q35-7.2"}
    assert ("10.0.0", "10.0.0", "pc-q35-7.2", "without-flags") in migrations
    # the design views run only on a binary without a design of its own
    views = {(r.args[0].version, r.args[2].name) for r in plan.runs if r.kind == "guest"}
    assert ("7.2.0", "design-respected") in views and ("10.0.0", "design-respected") not in views
