"""What the wheel installs: the import package `seoib` and nothing named for its role.

A site-packages is shared; a top-level package called `engine` (as this one once was)
collides with anything else of that name. These read the packaging configuration the
build reads, so a new folder or a renamed one shows here before it ships.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent

tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_installed_package_lives_under_seoib() -> None:
    include = _config()["tool"]["setuptools"]["packages"]["find"]["include"]
    found = find_packages(str(ROOT), include=include)
    assert "seoib" in found
    assert {p.split(".")[0] for p in found} == {"seoib"}
    assert not (ROOT / "engine").exists()


def test_the_console_script_and_the_version_come_from_seoib() -> None:
    project = _config()["project"]
    assert project["scripts"] == {"seoib": "seoib.cli:main"}
    assert _config()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "seoib.__version__"}



def test_the_license_the_metadata_names_is_shipped() -> None:
    assert _config()["project"]["license"] == {"text": "Apache-2.0"}
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    assert "Version 2.0" in (ROOT / "LICENSE").read_text()[:200]
