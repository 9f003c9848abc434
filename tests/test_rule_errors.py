"""Broken rule sets fail with file:line and exit 3: tests/cases/bad_rules/*.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from seoib.cli import main
from seoib.paths import builtin_rules_dir


def _edit(root: Path, case: dict[str, Any]) -> None:
    if "delete" in case:
        (root / case["delete"]).unlink()
        return
    if "dangle" in case:  # the file becomes a symbolic link to nothing
        (root / case["dangle"]).unlink()
        (root / case["dangle"]).symlink_to(root / "gone" / case["dangle"])
        return
    path = root / case["file"]
    if "write" in case:
        path.write_text(case["write"])
    elif "write_bytes" in case:
        path.write_bytes(case["write_bytes"].encode("latin-1"))
    for key in ("replace", "also"):
        if key in case:
            old, new = case[key]
            text = path.read_text()
            assert old in text, f"the case's {key} text is not in {path.name}: update the case"
            path.write_text(text.replace(old, new, 1))


@pytest.mark.cases("bad_rules")
def test_broken_rules(case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
                      ) -> None:
    root = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), root)
    _edit(root, case)
    code = main(["rules", "validate", str(root)])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "Traceback" not in err
    for piece in case["error"]:
        assert piece in err, f"{piece!r} not in:\n{err}"


def test_builtin_rules_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "validate"]) == 0
    assert "rules OK" in capsys.readouterr().out
