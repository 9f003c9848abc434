"""A real probe (Debian 12: QEMU 7.2.22, a 6.18 kernel with the SEOIB flags) drives policy and migrate.

The fixture is `seoib probe --format json` from such a host. Its machine list is also
an oracle for rules/qemu.yaml: the versioned types the rules say QEMU 7.2 registers must
be exactly the ones the real binary lists.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seoib.cli import main
from seoib.rules.ruleset import load_rules

PROBE = Path(__file__).resolve().parents[1] / "fixtures" / "inputs" / "probe" / "debian12-qemu-7.2.json"


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict]:
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_probe_judges_the_default_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code, v = _json(capsys, ["policy", "--host", f"@{PROBE}", "--vm", "machine=q35"])
    assert code == 0 and v["vm"]["machine"] == "pc-q35-7.2" and v["inferred"] is False
    assert v["host"]["x2apic_api_probed"] is True


def test_upgrading_from_the_probed_host_is_judged(capsys: pytest.CaptureFixture[str]) -> None:
    code, v = _json(capsys, ["migrate", "--src", f"@{PROBE}",
                             "--dst", "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2",
                             "--vm", "machine=pc-q35-7.2,irqchip=split,guest=windows-hyperv"])
    # Quirked on the source, no section sent: it lands quirked, still storming.
    assert (code, v["outcome"]) == (2, "storm")
    code, v = _json(capsys, ["migrate", "--src", f"@{PROBE}", "--dst", "kernel=7.0.3,qemu=11.0.0",
                             "--vm", "machine=pc-i440fx-1.4"])
    assert v["outcome"] == "unsupported"  # QEMU 11 no longer registers pc-i440fx-1.4


def test_rules_for_qemu_7_2_register_what_the_real_binary_lists() -> None:
    probe = json.loads(PROBE.read_text())
    r = load_rules().resolver
    qemu = r.qemu.resolve(probe["qemu"])
    listed = {m for m in probe["machines"] if m.startswith(("pc-", "isapc", "microvm"))}
    names = {f"{fam}-{'.'.join(map(str, v))}" for v, fams in r.machines.versions.items()
             for fam in fams or ()} | {f.id for f in r.machines.all_families.values() if not f.versioned}
    ruled = {n for n in names if r.qemu.registers(qemu, r.machines.parse(n))}
    assert ruled == listed
    assert {a: r.qemu.alias_target(qemu, a) for a in ("pc", "q35")} == probe["aliases"]


def test_upgrading_to_a_release_newer_than_the_rules_is_inferred(
        capsys: pytest.CaptureFixture[str]) -> None:
    from jsonschema import Draft202012Validator

    from seoib.paths import schemas_dir

    code, v = _json(capsys, ["migrate", "--src", f"@{PROBE}", "--dst", "kernel=7.2.1,qemu=11.1.0",
                             "--vm", "machine=pc-q35-7.2"])
    assert (code, v["outcome"], v["inferred"]) == (0, "ok", True)
    assert any(n.startswith("[inferred] QEMU 11.1") for n in v["notes"])
    schema = json.loads((schemas_dir() / "migrate-output.schema.json").read_text())
    assert list(Draft202012Validator(schema).iter_errors(v)) == []
