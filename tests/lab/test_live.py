"""The lab on this host, for real: a small subset (one machine type) of the installed QEMU.

Runs where /dev/kvm is usable and qemu-system-x86_64 and the toolchain (cc, ld, objcopy)
are installed (CI installs Debian's QEMU; gcc is there); skipped elsewhere. It starts
the installed QEMU's newest q35 type paused in every irqchip and IOAPIC setting, runs
the lab's guest and migrates the VM to itself, and holds each to the engine.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from seoib.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "lab-output.schema.json").read_text(encoding="utf-8"))
QEMU = shutil.which("qemu-system-x86_64")


def _missing() -> str | None:
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return "no usable /dev/kvm"
    tools = {"qemu-system-x86_64": QEMU, **{t: shutil.which(t) for t in ("cc", "ld", "objcopy")}}
    absent = [name for name, path in tools.items() if path is None]
    return f"not installed: {', '.join(absent)}" if absent else None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    from seoib.lab.binary import describe_binary
    from seoib.lab.plan import select_machines

    assert QEMU is not None
    newest = max((m for m in select_machines(describe_binary(QEMU), ["pc-q35-*"])),
                 key=lambda m: tuple(int(x) for x in m.removeprefix("pc-q35-").split(".")))
    evidence = tmp_path_factory.mktemp("lab") / "lab.json"
    code = main(["lab", "--machines", newest, "--evidence", str(evidence), "--format", "json"])
    return code, json.loads(evidence.read_text(encoding="utf-8"))


def _one(report: dict[str, Any], kind: str, irqchip: str, kernel: str) -> dict[str, Any]:
    return next(o for o in report["observations"] if o["kind"] == kind
                and f"kernel-irqchip={irqchip} ioapic.version=default" in o["id"]
                and o["kernels"].get("binary") == kernel)


def test_every_observation_agrees_and_the_report_is_valid(lab: tuple[int, dict[str, Any]]) -> None:
    code, report = lab
    assert list(Draft202012Validator(SCHEMA).iter_errors(report)) == []
    assert report["disagreements"] == [] and report["inconclusive"] == [], report["disagreements"]
    assert code == 0


def test_the_host_says_which_kvm_answered(lab: tuple[int, dict[str, Any]]) -> None:
    assert lab[1]["host"]["kvm"]["implementation"] in ("vmx", "svm", "pvm", "other")


def test_an_unpatched_qemu_storms_a_directed_eoi_guest_on_split(lab: tuple[int, dict[str, Any]]) -> None:
    seen = _one(lab[1], "guest", "split", "this-kernel")["observed"]
    if seen["policy"] != "quirked":
        pytest.skip("the installed QEMU sets the SEOIB flags itself")
    assert seen["lvr_seoib"] and seen["svr_seoib"] and seen["outcome"] == "storm"


def test_flags_set_as_a_design_would_stop_the_storm(lab: tuple[int, dict[str, Any]]) -> None:
    seen = _one(lab[1], "guest", "split", "design-respected")["observed"]
    assert seen["shim"]["seoib_flags"] == "0x4" and seen["outcome"] == "ok"
    assert seen["result"]["b"] >= 1 and seen["result"]["rirr_end"] == 0
