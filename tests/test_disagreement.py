"""A wrong rule is caught by the simulator: exit 4, both sides shown, never a quiet verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from seoib.cli import main
from seoib.paths import builtin_rules_dir


def _wrong_rules(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), root)
    effects = root / "effects.yaml"
    # Pretend the quirk is harmless: the storm rule now says ok.
    text = effects.read_text()
    marker = "    then: {effect: storm}\n"
    assert marker in text
    effects.write_text(text.replace(marker, "    then: {effect: ok}\n", 1))
    return root


def test_wrong_rule_exits_4_with_both_sides(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    root = _wrong_rules(tmp_path)
    code = main(["policy", "--rules", str(root), "--host", "kernel=6.12.40,qemu=10.2.0",
                 "--vm", "machine=q35,irqchip=split,guest=windows-hyperv"])
    out, err = capsys.readouterr()
    assert code == 4
    assert out.startswith("ERROR: the simulator does not reproduce this verdict")
    assert "outcome: solver ok vs simulator storm" in out
    assert "disagree" in err


def test_wrong_rule_in_migration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _wrong_rules(tmp_path)
    code = main(["migrate", "--rules", str(root), "--format", "json",
                 "--src", "kernel=6.12.40,qemu=10.2.0", "--dst", "kernel=7.0.3,qemu=10.2.0",
                 "--vm", "machine=pc-q35-10.2,irqchip=split,guest=windows-hyperv"])
    assert code == 4
    assert '"agrees": false' in capsys.readouterr().out
