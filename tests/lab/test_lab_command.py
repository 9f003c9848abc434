"""`seoib lab` refuses what it cannot run with one line and exit 3, before starting anything."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from seoib.cli import main

QEMU = shutil.which("qemu-system-x86_64")


def _usable_kvm() -> bool:
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("argv, says", [
    (["--qemu", "/nonexistent/qemu"], "not an executable file"),
    (["--qemu", "/bin/true"], "QEMU"),
    (["--qemu", "a", "--qemu", "b", "--qemu", "c"], "at most 2"),
    (["--jobs", "0"], "jobs"),
    (["--jobs", "٣"], "jobs"),
    (["--timeout", "soon"], "seconds"),
    (["--kvm", "/nonexistent/kvm"], "/nonexistent/kvm"),
    (["--kvm", "/dev/null"], "not a KVM device"),
    (["--evidence", "/nonexistent/dir/lab.json"], "not writable"),
])
def test_bad_input_is_one_line_and_exit_3(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          says: str) -> None:
    if QEMU is None and "--qemu" not in argv:
        argv = [*argv, "--qemu", "/bin/true"]
    assert main(["lab", *argv]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "Traceback" not in err


def test_an_evidence_path_that_is_a_directory_is_refused(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "--evidence", str(tmp_path)]) == 3
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.skipif(QEMU is None or not _usable_kvm(), reason="needs QEMU and a usable /dev/kvm")
def test_a_pattern_that_matches_no_machine_type_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "--machines", "no-such-board-*"]) == 3
    assert "no machine type" in capsys.readouterr().err
