"""Every artifact against its golden file (SEOIB_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from matrix_support import GOLDEN, SMALL, UPDATE  # noqa: F401 (fixtures)

from seoib.matrix.artifacts import FORMATS, file_names, render_matrix
from seoib.matrix.build import Matrix
from seoib.rules.ruleset import RuleSet, load_rules

# Every file `seoib matrix` writes, tables-<design>.md included (the small space
# keeps the first two designs, so only their tables files are golden).
NAMES = file_names(load_rules(), list(FORMATS))


@pytest.mark.parametrize("name", NAMES)
def test_artifact_matches_golden(name: str, rules: RuleSet, small_matrix: Matrix,
                                 tmp_path: Path) -> None:
    fmt = next((f for f, names in FORMATS.items() if name in names), "md")
    files = render_matrix(rules, small_matrix, [fmt])
    if name not in files:
        assert name.startswith("tables-") and not (GOLDEN / name).exists()
        pytest.skip(f"{name}: its design is not in the small class space")
    data = files[name]
    (tmp_path / name).write_bytes(data)  # regenerated into tmp, compared byte for byte
    golden = GOLDEN / name
    if UPDATE:
        golden.write_bytes(data)
    assert golden.is_file(), f"no golden file {golden}; run with SEOIB_UPDATE_GOLDEN=1"
    assert (tmp_path / name).read_bytes() == golden.read_bytes(), (
        f"{name} differs from {golden}; if the change is intended, rerun with "
        "SEOIB_UPDATE_GOLDEN=1 and review the diff")
