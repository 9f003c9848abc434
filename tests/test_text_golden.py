"""Text verdicts a person reads, kept as golden files (SEOIB_UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seoib.cli import main

GOLDEN = Path(__file__).parent / "golden"

CASES = {
    "policy-storm-before-backport": ["policy", "--host", "kernel=6.18.16,qemu=11.0.0,seoib=rfc-v2",
                                     "--vm", "machine=pc-q35-11.0,irqchip=split,guest=windows-hyperv"],
    "policy-respected": ["policy", "--host", "kernel=6.18.17,qemu=11.0.0,seoib=rfc-v2",
                         "--vm", "machine=pc-q35-11.0,irqchip=split,guest=windows-hyperv"],
    "migrate-dest-abort": ["migrate", "--src", "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2",
                           "--dst", "kernel=6.18.16,qemu=11.0.0,seoib=rfc-v2",
                           "--vm", "machine=pc-q35-11.0,irqchip=split"],
    "snapshot-cpu-model-change": ["migrate", "--snapshot", "--src", "kernel=7.0.3,qemu=10.2.0",
                                  "--dst", "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "--vm",
                                  "machine=pc-q35-10.2,irqchip=split,ioapic=0x11,guest=windows-hyperv"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_text_output(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(CASES[name])
    out = capsys.readouterr().out
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("SEOIB_UPDATE_GOLDEN"):
        path.write_text(out)
    assert out == path.read_text(), f"{name}: output changed; SEOIB_UPDATE_GOLDEN=1 to accept"
