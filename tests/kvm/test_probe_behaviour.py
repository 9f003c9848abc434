"""``seoib probe`` measures the kernel's SEOIB behaviour and a probed host spec drives policy.

The measurement runs on this machine's /dev/kvm (skipped with the reason elsewhere);
the comparison with the rules is also fed doctored tables, so it is seen to fail.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from kvm_support import needs_kvm

from seoib import cli
from seoib.inputs.behaviour import compare, with_behaviour
from seoib.inputs.probe import probe_host
from seoib.kvmhost.modetable import measure

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "probe-output.schema.json").read_text())

# docs/domain.md, "KVM behaviour table", as (irqchip, mode) -> what the kernel shows.
TABLE = {
    ("split", "QUIRKED"): {"enable_cap": "ok", "lvr_bit24": 1, "svr_bit12": 1, "suppression_honored": False},
    ("split", "ENABLED"): {"enable_cap": "ok", "lvr_bit24": 1, "svr_bit12": 1, "suppression_honored": True},
    ("split", "DISABLED"): {"enable_cap": "ok", "lvr_bit24": 0, "svr_bit12": 0, "suppression_honored": False},
    ("on", "QUIRKED"): {"enable_cap": "ok", "lvr_bit24": 0, "svr_bit12": 0, "suppression_honored": False},
    ("on", "ENABLED"): {"enable_cap": "EINVAL"},
    ("on", "DISABLED"): {"enable_cap": "ok", "lvr_bit24": 0, "svr_bit12": 0, "suppression_honored": False},
}


def _fake_qemu(version: str, machines: Sequence[str]) -> Any:
    def run(argv: Sequence[str]) -> tuple[int, str]:
        if "--version" in argv:
            return 0, f"QEMU emulator version {version}\n"
        listing = "".join(f"{m:<20} Standard PC\n" for m in machines)
        return 0, "Supported machines are:\n" + listing

    return run


@pytest.fixture(scope="module")
def table() -> dict[str, Any]:
    if needs_kvm.args[0]:
        pytest.skip(needs_kvm.kwargs["reason"])
    return measure().to_dict()


@needs_kvm
def test_the_kernel_shows_the_behaviour_table(table: dict[str, Any]) -> None:
    for row in table["modes"]:
        expected = TABLE[(row["irqchip"], row["mode"])]
        assert {k: row[k] for k in expected} == expected, row
    # Only split exits to userspace; split DISABLED and QUIRKED exit once, ENABLED never.
    exits = {(r["irqchip"], r["mode"]): r["eoi_exits"] for r in table["modes"]}
    assert exits[("split", "QUIRKED")] == exits[("split", "DISABLED")] == 1
    assert exits[("split", "ENABLED")] == 0 and exits[("on", "QUIRKED")] == 0


@needs_kvm
def test_the_kernel_behaves_as_the_rules_predict_for_its_mask(table: dict[str, Any]) -> None:
    report = compare(table, None)
    assert report["as_rules_predict"], report["disagreements"]
    assert all(r["agrees"] for r in report["modes"]) and all(c["agrees"] for c in report["checks"])


@needs_kvm
def test_a_kernel_that_ignores_the_flag_is_reported(table: dict[str, Any]) -> None:
    doctored = copy.deepcopy(table)
    row = next(r for r in doctored["modes"] if (r["irqchip"], r["mode"]) == ("split", "ENABLED"))
    row.update(eoi_exits=1, eoi_reached_ioapic=True, suppression_honored=False)  # the old bug
    doctored["checks"][0]["result"] = "0x3"
    report = compare(doctored, None)
    assert not report["as_rules_predict"]
    assert any(d.startswith("split ENABLED") for d in report["disagreements"])
    assert any("system fd" in d for d in report["disagreements"])


@needs_kvm
def test_probe_json_carries_the_measurement(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["probe", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, SCHEMA)
    assert data["behaviour"]["as_rules_predict"] is True
    assert any("behaves as the rules predict" in n for n in data["notes"])


def test_without_kvm_nothing_is_measured(tmp_path: Path) -> None:
    result = with_behaviour(probe_host(kvm_path=str(tmp_path / "none"), run=_fake_qemu("11.0.0", [])),
                            str(tmp_path / "none"))
    assert result.behaviour is None and "behaviour" not in result.to_dict()
    assert any(n.startswith("behaviour not measured") for n in result.notes)


@needs_kvm
def test_a_probed_host_spec_drives_policy_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The kernel string names a release the rules say lacks the flags; the measured mask wins.
    result = with_behaviour(
        probe_host(qemu_binary="qemu", run=_fake_qemu("11.0.0", ["pc-q35-11.0"])), "/dev/kvm"
    )
    spec = dict(result.to_dict(), kernel="6.12.40", seoib="accel-property")
    jsonschema.validate(spec, SCHEMA)
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(spec))
    vm = "machine=pc-q35-11.0,irqchip=split,seoib-policy=respected,guest=windows-hyperv"
    code = cli.main(["policy", "--host", f"@{path}", "--vm", vm, "--format", "json"])
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["host"]["x2apic_api"] == "0xf" and verdict["host"]["x2apic_api_probed"] is True
    assert (code, verdict["outcome"], verdict["policy"]) == (0, "ok", "respected")
    assert verdict["suppression_honored"] is True and verdict["witness"]["agrees"] is True
    # The same host by its version string alone cannot set the flag.
    code = cli.main(["policy", "--host", "kernel=6.12.40,qemu=11.0.0,seoib=accel-property", "--vm", vm])
    assert code == 2 and "start-fails" in capsys.readouterr().out
