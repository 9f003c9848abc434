"""Bad input exits 3 with one clear line and no traceback: tests/cases/bad_input/*.yaml."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from seoib.cli import COMMANDS, main


@pytest.mark.cases("bad_input")
def test_bad_input(case: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(a) for a in case["args"]])
    out, err = capsys.readouterr()
    assert code == 3, (out, err)
    assert "Traceback" not in err
    assert err.startswith("seoib: ") and err.count("\n") == 1, err
    assert out == "", "nothing is printed as if it were a verdict"
    for piece in case["error"]:
        assert piece in err, f"{piece!r} not in {err!r}"


def test_bad_json_host_file_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    host = tmp_path / "probe.json"
    host.write_text('{\n  "kernel": "7.0",\n  "qemu": 11.0,\n}\n')
    assert main(["policy", "--host", f"@{host}", "--vm", "machine=q35"]) == 3
    assert f"{host}:4: invalid JSON" in capsys.readouterr().err


def test_probe_json_is_a_host_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = tmp_path / "probe.json"
    host.write_text(json.dumps({"name": "h1", "kernel": "6.18.44-fc-v595", "x2apic-api": "0xf",
                                "qemu": "11.0.0", "machines": ["pc-q35-11.0"],
                                "aliases": {"q35": "pc-q35-11.0"}, "notes": ["probed"]}))
    code = main(["policy", "--host", f"@{host}", "--vm", "machine=pc-q35-11.0,irqchip=split",
                 "--format", "json"])
    verdict = json.loads(capsys.readouterr().out)
    assert code == 1  # quirked on split with an unknown guest: a storm risk
    assert verdict["host"]["x2apic_api_probed"] is True
    assert verdict["outcome"] == "storm-risk"


def test_probe_file_with_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = tmp_path / "probe.json"
    host.write_text(json.dumps({"name": "h1", "kernel": "6.18.44-fc-v595", "x2apic-api": "0xf"}))
    code = main(["policy", "--host", f"@{host},qemu=11.0.0,seoib=rfc-v2",
                 "--vm", "machine=pc-q35-11.0,irqchip=split", "--format", "json"])
    verdict = json.loads(capsys.readouterr().out)
    assert (code, verdict["policy"], verdict["host"]["qemu"]) == (0, "respected", "11.0.0")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_its_module_and_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(f"seoib.commands.{COMMANDS[command][0]}")
    assert callable(module.add_arguments) and callable(module.run)
    assert main([command, "--help"]) == 0
    assert COMMANDS[command][1] in " ".join(capsys.readouterr().out.split())
