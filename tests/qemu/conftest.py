"""The QEMU binary under test, or the reason there is none.

The oracle needs qemu-system-x86_64 (CI installs Debian's) and a /dev/kvm this user
can open: kernel-irqchip=on and split exist only with KVM. Each skip says why.
"""

from __future__ import annotations

import os
import shutil

import pytest

QEMU = "qemu-system-x86_64"


def kvm_problem(path: str = "/dev/kvm") -> str | None:
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CLOEXEC))
    except OSError as err:
        return f"{path} cannot be opened ({err.strerror or err}): the irqchip modes need KVM"
    return None


@pytest.fixture(scope="session")
def qemu() -> str:
    binary = shutil.which(QEMU)
    if binary is None:
        pytest.skip(f"no {QEMU} on PATH (CI installs Debian's qemu-system-x86)")
    problem = kvm_problem()
    if problem:
        pytest.skip(problem)
    return binary
