"""VMs from libvirt domain XML and QEMU command lines, end to end through `seoib policy`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seoib.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "inputs"
HOST = "kernel=7.0.3,qemu=10.2.0,seoib=rfc-v2"


def _policy(capsys: pytest.CaptureFixture[str], *vm_args: str) -> tuple[int, dict]:
    code = main(["policy", "--host", HOST, *vm_args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_domain_xml_split_irqchip(capsys: pytest.CaptureFixture[str]) -> None:
    code, v = _policy(capsys, "--domain-xml",
                      str(FIXTURES / "xml" / "virt-install-ubuntu-split-iommu.xml"))
    assert (code, v["vm"]["irqchip"], v["vm"]["guest"], v["policy"]) == (0, "split", "linux",
                                                                         "respected")


def test_domain_xml_alias_is_noted(capsys: pytest.CaptureFixture[str]) -> None:
    _, v = _policy(capsys, "--domain-xml", str(FIXTURES / "xml" / "virt-install-fedora-alias-pc.xml"))
    assert v["vm"]["requested_machine"] == "pc"
    assert v["vm"]["machine"] == "pc-i440fx-10.2"
    assert any("alias pc resolves to pc-i440fx-10.2" in n for n in v["notes"])


def test_qemu_cmdline_file(capsys: pytest.CaptureFixture[str]) -> None:
    _, v = _policy(capsys, "--qemu-cmdline",
                   "@" + str(FIXTURES / "cmdline" / "handwritten-split-0x11.cmdline"))
    assert v["vm"]["irqchip"] == "split" and v["vm"]["ioapic"] == "0x11"
    assert v["vm"]["ioapic_from"] == "spec"


def test_qemu_cmdline_inline(capsys: pytest.CaptureFixture[str]) -> None:
    code, v = _policy(capsys, "--qemu-cmdline",
                      "qemu-system-x86_64 -machine pc-q35-10.2,kernel-irqchip=split -cpu host,-x2apic")
    assert (code, v["vm"]["x2apic"], v["outcome"]) == (0, False, "not-applicable")


def test_hostile_xml_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    hostile = sorted((FIXTURES / "hostile").glob("*.xml"))
    assert hostile
    for path in hostile:
        assert main(["policy", "--host", HOST, "--domain-xml", str(path)]) == 3
        err = capsys.readouterr().err
        assert str(path) in err and "Traceback" not in err
