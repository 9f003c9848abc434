"""Shared fixtures: the built-in rule set and the data-driven YAML cases.

A test marked ``@pytest.mark.cases("policy")`` runs once per case of every
file under tests/cases/policy/, with the case as its ``case`` argument and
"<file>: <name>" as its id; ``load_cases("policy")`` gives the same cases as a
list, for tests that read them all at once. ``backend`` is one open /dev/kvm per
test module (tests/kvm); ``qemu_binary`` the installed QEMU where KVM can run it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from seoib.rules.ruleset import RuleSet, load_rules

CASES = Path(__file__).parent / "cases"


def _cases(family: str) -> list[tuple[str, Any]]:
    """(id, case) for every case of every file under tests/cases/<family>/, files in name order."""
    found = []
    for path in sorted((CASES / family).glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            found.append((f"{path.stem}: {case['name']}", case))
    if not found:  # a renamed folder must not turn a case family into zero silent tests
        raise LookupError(f"no cases under {CASES / family}")
    return found


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cases(family): run once per YAML case under tests/cases/<family>/")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("cases")
    if marker is not None:
        found = _cases(marker.args[0])
        metafunc.parametrize("case", [case for _, case in found], ids=[name for name, _ in found])


@pytest.fixture(scope="session")
def load_cases() -> Callable[[str], list[Any]]:
    return lambda family: [case for _, case in _cases(family)]


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules(use_cache=False)


@pytest.fixture(scope="module")
def backend() -> Iterator[Any]:
    from seoib.kvmhost.backend import KvmBackend

    kvm = KvmBackend()
    yield kvm
    kvm.close()


@pytest.fixture(scope="session")
def qemu_binary() -> str:
    binary = shutil.which("qemu-system-x86_64")
    if binary is None:
        pytest.skip("no qemu-system-x86_64 on PATH (CI installs Debian's qemu-system-x86)")
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
    except OSError as err:
        pytest.skip(f"/dev/kvm cannot be opened ({err.strerror or err}): -accel kvm needs it")
    return binary
