"""``seoib simulate --backend kvm``: exit codes and the JSON it shares with the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from kvm_support import needs_kvm

from seoib import cli
from seoib.kvmhost import backend as kvm_backend

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "simulate-output.schema.json").read_text())

ENABLED_SPLIT = """\
steps:
  - create_vm: {irqchip: split}
  - enable_cap: 0x4
  - set_cpuid: {x2apic: true}
  - guest_write_svr: 0x11ff
  - rte: {pin: 2, vector: 0x40, trigger: level}
  - line: {pin: 2, level: 1}
  - run
  - line: {pin: 2, level: 0}
  - guest_eoi
  - expect: {eoi_exits: 0, remote_irr: {2: 1}, lvr_bit24: 1, svr_bit12: 1}
  - guest_eoir: 0x40
  - expect: {remote_irr: {2: 0}, policy: respected, suppression_honored: true}
"""


def _scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


@needs_kvm
def test_register_level_scenario_passes_with_the_same_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _scenario(tmp_path, ENABLED_SPLIT)
    assert cli.main(["simulate", "--backend", "kvm", "--format", "json", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    jsonschema.validate(out, SCHEMA)
    assert out["passed"] and out["state"]["suppression_honored"] is True


@needs_kvm
def test_a_failed_expectation_is_exit_2(tmp_path: Path) -> None:
    text = ENABLED_SPLIT.replace("eoi_exits: 0", "eoi_exits: 1")  # the kernel suppresses it
    assert cli.main(["simulate", "--backend", "kvm", str(_scenario(tmp_path, text))]) == 2


@needs_kvm
def test_high_level_steps_are_refused_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _scenario(tmp_path, "host: {seoib: none}\nsteps:\n  - boot\n  - irqs: 2\n")
    assert cli.main(["simulate", "--backend", "kvm", str(path)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}:3:" in err[0] and "high-level" in err[0]


@needs_kvm
def test_another_kernel_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _scenario(tmp_path, "host: {x2apic-api: 0x3}\nsteps:\n  - check_extension: {fd: system}\n")
    assert cli.main(["simulate", "--backend", "kvm", str(path)]) == 3
    assert "not this kernel's" in capsys.readouterr().err


def test_without_dev_kvm_it_is_exit_3_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kvm_backend, "DEVICE", str(tmp_path / "no-kvm"))
    path = _scenario(tmp_path, ENABLED_SPLIT)
    assert cli.main(["simulate", "--backend", "kvm", str(path)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-kvm" in err[0] and "kvm backend cannot run here" in err[0]


def test_the_simulator_stays_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kvm_backend, "DEVICE", str(tmp_path / "no-kvm"))
    assert cli.main(["simulate", str(_scenario(tmp_path, ENABLED_SPLIT))]) == 0
