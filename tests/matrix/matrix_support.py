"""Helpers and fixtures shared by the matrix tests.

A plain module, not a conftest.py: other test folders import `conftest` by name.
Test modules import the fixtures they use from here.
"""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path

import pytest

from seoib.matrix.build import Matrix, build_matrix
from seoib.matrix.space import Space, default_space
from seoib.paths import builtin_rules_dir
from seoib.rules.ruleset import RuleSet, load_rules

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


@cache
def _matrices(which: str) -> Matrix:
    rs = load_rules(use_cache=False)
    return build_matrix(rs, small_space(rs) if which == "small" else None)


def small() -> Matrix:
    """The small golden class space (built once per test session)."""
    return _matrices("small")


def full() -> Matrix:
    """The default class space of `seoib matrix` (built once per test session)."""
    return _matrices("full")


# Fixtures under other names than the parameters, so importing them shadows nothing.
SMALL = pytest.fixture(name="small_matrix")(small)
FULL = pytest.fixture(name="full_matrix")(full)
