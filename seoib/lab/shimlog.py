"""Read what the KVM shim logged: what QEMU asked of KVM_CAP_X2APIC_API and what it got.

Contract: :func:`read_shim_log` parses the shim's lines (seoib/lab/native/kvm_shim.c)
into a :class:`ShimLog`: every ``KVM_ENABLE_CAP(KVM_CAP_X2APIC_API)`` QEMU or the
shim made, with its flags and result, and the masks ``KVM_CHECK_EXTENSION``
answered. :attr:`ShimLog.seoib_flags` is what KVM holds afterwards: the bits 2/3
of the calls that succeeded (KVM keeps the last one; nothing returns to QUIRKED).
Unknown lines are ignored; a missing log is an empty one (QEMU never loaded the shim).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EnableCall", "ShimLog", "read_shim_log"]

SEOIB_BITS = 0xC
_LINE = re.compile(r"^(?P<event>loaded|check_extension|enable_cap|design_set)\b(?P<rest>.*)$")
_KV = re.compile(r"(\w+)=(\S+)")


@dataclass(frozen=True)
class EnableCall:
    flags: int
    result: int
    errno: int
    emulated: bool  # refused by the shim (a kernel without the flags), not by KVM
    by_shim: bool  # made by the shim as a design, not by QEMU

    def describe(self) -> str:
        who = "shim (design)" if self.by_shim else "QEMU"
        got = "0" if self.result == 0 else f"-1 errno {self.errno}" + (" (emulated)" if self.emulated else "")
        return f"{who}: ENABLE_CAP(X2APIC_API, 0x{self.flags:x}) -> {got}"


@dataclass(frozen=True)
class ShimLog:
    loaded: bool = False
    calls: tuple[EnableCall, ...] = field(default=())
    answers: tuple[int, ...] = field(default=())  # CHECK_EXTENSION answers QEMU saw

    @property
    def seoib_flags(self) -> int:
        flags = 0
        for call in self.calls:
            if call.result == 0 and call.flags & SEOIB_BITS:
                flags = call.flags & SEOIB_BITS
        return flags

    def as_json(self) -> dict[str, object]:
        return {"loaded": self.loaded, "enable_cap": [c.describe() for c in self.calls],
                "check_extension": [f"0x{a:x}" for a in self.answers],
                "seoib_flags": f"0x{self.seoib_flags:x}"}


def read_shim_log(path: Path) -> ShimLog:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ShimLog()
    loaded, calls, answers = False, [], []
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        kv = dict(_KV.findall(m.group("rest")))
        try:
            if m.group("event") == "loaded":
                loaded = True
            elif m.group("event") == "check_extension":
                answers.append(int(kv["answered"], 16))
            else:
                calls.append(EnableCall(int(kv["flags"], 16), int(kv["result"]), int(kv["errno"]),
                                        kv.get("emulated") == "1", m.group("event") == "design_set"))
        except (KeyError, ValueError):
            continue
    return ShimLog(loaded, tuple(calls), tuple(answers))
