"""Helpers shared by the matrix tests (a plain module: conftest names clash across folders)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.matrix.space import Space, default_space
from engine.paths import builtin_rules_dir
from engine.ruleset import RuleSet, load_rules

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SEOIB_UPDATE_GOLDEN") == "1"


def small_space(rs: RuleSet) -> Space:
    """The newest QEMU, the first two designs, one guest: small enough to read as a golden file."""
    qemus = [str(q.version) for q in rs.resolver.qemu.releases.values()][-1:]
    designs = list(rs.resolver.designs)[:2]
    return default_space(rs, qemus=qemus, designs=designs, guests=("windows-hyperv",))


def copy_rules(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), root)
    return root


def load_copy(root: Path) -> RuleSet:
    return load_rules(root, use_cache=False)
