"""What QEMU refuses to start, the engine refuses too: held against the installed QEMU.

Every case of refusals.yaml is run twice: by the real qemu-system-x86_64 on KVM
(paused, quit over QMP at once) and by the engine's command-line reader and
resolver on a host whose QEMU is the installed release. Where QEMU prints an
error and exits, the engine exits 3 quoting QEMU's words; where QEMU starts, the
engine gives a verdict. The classes that need no QEMU to refuse (text that is no
command line, a non-x86 binary, no option at all) are in tests/inputs/cases.yaml.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from seoib.errors import BadInput, Location, SpecError
from seoib.inputs import parse_domain_xml, parse_qemu_cmdline
from seoib.inputs.probe import parse_qemu_version
from seoib.query.verdicts import policy_verdict
from seoib.record import replace
from seoib.rules.ruleset import RuleSet
from seoib.rules.specs import parse_host_spec, parse_vm_spec

HERE = Path(__file__).parent
CASES = yaml.safe_load((HERE / "refusals.yaml").read_text(encoding="utf-8"))["cases"]
FIXTURES = HERE.parent / "fixtures" / "inputs"
QMP_QUIT = '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n'


@pytest.fixture(scope="module")
def qemu(qemu_binary: str) -> tuple[str, str]:
    """The binary and the release it reports (the host spec's qemu=)."""
    binary = qemu_binary
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    version, _ = parse_qemu_version(out)
    assert version, out
    return binary, version


def _run_qemu(binary: str, args: list[str]) -> tuple[int, str]:
    run = subprocess.run([binary, "-S", "-nodefaults", "-display", "none", "-no-user-config",
                          *args, "-qmp", "stdio"], input=QMP_QUIT, capture_output=True,
                         text=True, timeout=60, check=False)
    return run.returncode, run.stderr


def _engine(rules: RuleSet, version: str, spec: Any) -> dict[str, Any]:
    host = rules.resolver.host(parse_host_spec(f"kernel=7.0.3,qemu={version}", Location("host")))
    return policy_verdict(rules, host, rules.resolver.vm(spec, host))


def _vm(text: str) -> Any:
    parsed = parse_qemu_cmdline(text)
    spec = parse_vm_spec(dict(parsed.spec), Location(parsed.source))
    return replace(spec, notes=parsed.notes, requires=parsed.requires)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_engine_refuses_what_qemu_refuses(qemu: tuple[str, str], rules: RuleSet,
                                          case: dict[str, Any]) -> None:
    binary, version = qemu
    rc, err = _run_qemu(binary, case["args"])
    text = " ".join(["qemu-system-x86_64", *(f"'{a}'" for a in case["args"])])
    if case["qemu"] == "starts":
        assert rc == 0, f"QEMU was expected to start: {err}"
        verdict = _engine(rules, version, _vm(text))
        assert verdict["outcome"] != "start-fails" and verdict["witness"]["agrees"]
        return
    assert rc != 0 and case["qemu"] in err, f"QEMU no longer says {case['qemu']!r}: {err}"
    with pytest.raises((BadInput, SpecError)) as info:
        _engine(rules, version, _vm(text))
    assert info.value.exit_code == 3
    assert case["qemu"] in info.value.message, "the refusal quotes QEMU's own words"


def test_an_intel_iommu_domain_on_i440fx_is_refused_as_qemu_refuses_it(
        qemu: tuple[str, str], rules: RuleSet, tmp_path: Path) -> None:
    """libvirt passes <iommu model='intel'> as -device intel-iommu; QEMU refuses it on pc."""
    binary, version = qemu
    rc, err = _run_qemu(binary, ["-accel", "kvm", "-machine", "pc", "-device", "intel-iommu"])
    refusal = "Parameter 'driver' expects a dynamic sysbus device type for the machine"
    assert rc != 0 and refusal in err
    xml = tmp_path / "i440fx-iommu.xml"
    xml.write_text("<domain type='kvm'>\n  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                   "  <devices>\n    <iommu model='intel'/>\n  </devices>\n</domain>\n")
    parsed = parse_domain_xml(str(xml))
    spec = replace(parse_vm_spec(dict(parsed.spec), Location(parsed.source)),
                   requires=parsed.requires)
    with pytest.raises(SpecError) as info:
        _engine(rules, version, spec)
    assert refusal in info.value.message and info.value.location == Location(str(xml), 4)
