"""Every artifact against its golden file (SEOIB_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from matrix_support import GOLDEN, SMALL, UPDATE  # noqa: F401 (fixtures)

from engine.matrix.artifacts import FORMATS, render_matrix
from engine.matrix.build import Matrix
from engine.ruleset import RuleSet

NAMES = [n for names in FORMATS.values() for n in names]


@pytest.mark.parametrize("name", NAMES)
def test_artifact_matches_golden(name: str, rules: RuleSet, small_matrix: Matrix,
                                 tmp_path: Path) -> None:
    fmt = next(f for f, names in FORMATS.items() if name in names)
    data = render_matrix(rules, small_matrix, [fmt])[name]
    (tmp_path / name).write_bytes(data)  # regenerated into tmp, compared byte for byte
    golden = GOLDEN / name
    if UPDATE:
        golden.write_bytes(data)
    assert golden.is_file(), f"no golden file {golden}; run with SEOIB_UPDATE_GOLDEN=1"
    assert (tmp_path / name).read_bytes() == golden.read_bytes(), (
        f"{name} differs from {golden}; if the change is intended, rerun with "
        "SEOIB_UPDATE_GOLDEN=1 and review the diff")
