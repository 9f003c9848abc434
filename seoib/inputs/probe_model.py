"""What a host probe is made of: its shared context, its result and their text.

``probe`` runs the sections, ``behaviour`` measures the mode table, ``probe_machines``
starts the machine types and ``labels`` turns a result into node labels; each of them
reads these types, and none of them is read here, so the four never import in a circle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..rules.ruleset import RuleSet

__all__ = [
    "RUN_TIMEOUT",
    "X2APIC_API_FLAGS",
    "Ioctl",
    "ProbeContext",
    "ProbeResult",
    "ProbeSection",
    "Runner",
    "behaviour_lines",
    "decode_x2apic_api",
]

# KVM_X2APIC_API_* flag bits (docs/domain.md, "The x2APIC API flags"): bits 0-1 old, 2-3 the fix.
X2APIC_API_FLAGS = {
    0: "USE_32BIT_IDS",
    1: "DISABLE_BROADCAST_QUIRK",
    2: "ENABLE_SUPPRESS_EOI_BROADCAST",
    3: "DISABLE_SUPPRESS_EOI_BROADCAST",
}

RUN_TIMEOUT = 10.0

Ioctl = Callable[[int, int], int]
Runner = Callable[[Sequence[str]], tuple[int, str]]


def decode_x2apic_api(mask: int) -> list[str]:
    """Names of the KVM_X2APIC_API_* bits set in ``mask`` (unknown bits as BIT<n>)."""
    return [X2APIC_API_FLAGS.get(b, f"BIT{b}") for b in range(mask.bit_length()) if mask >> b & 1]


@dataclass(frozen=True)
class ProbeResult:
    """The host spec this machine probes to, plus what the probe noticed.

    ``spec`` keys: ``name``, ``kernel``, ``x2apic-api`` ("0x.."), ``qemu`` ("X.Y.Z"),
    ``machines`` (list) and ``aliases`` ({alias: target}); absent when not probed.
    ``measured`` holds each section's facts by section name; ``warnings`` are the
    measured facts the rules do not predict.
    """

    spec: dict[str, Any]
    notes: tuple[str, ...] = field(default=())
    behaviour: dict[str, Any] | None = None  # the measured mode table (seoib.inputs.behaviour)
    measured: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = field(default=())
    text: tuple[tuple[str, str], ...] = field(default=())  # extra (label, value) rows

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.spec)
        out["notes"] = list(self.notes)
        if self.behaviour is not None:
            out["behaviour"] = self.behaviour
        if self.measured:
            out["measured"] = self.measured
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_text(self) -> str:
        s = self.spec
        rows = [("name", s.get("name")), ("kernel", s.get("kernel"))]
        api = s.get("x2apic-api")
        if api is not None:
            flags = ", ".join(decode_x2apic_api(int(api, 16))) or "none"
            rows.append(("x2apic-api", f"{api} ({flags})"))
        else:
            rows.append(("x2apic-api", "not probed"))
        rows.append(("qemu", s.get("qemu") or "not probed"))
        if "machines" in s:
            rows.append(("machines", f"{len(s['machines'])} types"))
            for alias, target in sorted(s.get("aliases", {}).items()):
                rows.append(("alias", f"{alias} -> {target}"))
        rows += list(self.text)
        lines = [f"{k:<11} {v}" for k, v in rows]
        if self.behaviour is not None:
            lines += behaviour_lines(self.behaviour)
        lines += ["notes:"] + [f"  - {n}" for n in self.notes] if self.notes else []
        lines += ["disagrees with the rules:"] + [f"  - {w}" for w in self.warnings] \
            if self.warnings else []
        lines.append("host file:  this text is not one; write it with `seoib probe --format json "
                     "> probe.json` and pass `--host @probe.json`")
        return "\n".join(lines) + "\n"


@dataclass
class ProbeContext:
    """What the sections share: their inputs, and the result they build up."""

    kvm_path: str
    qemu_binary: str | None  # given with --qemu; None: search PATH
    ioctl: Ioctl
    run: Runner
    rules: Callable[[], RuleSet] | None = None  # loaded on first use, for comparisons
    timeout: float = RUN_TIMEOUT
    spec: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    text: list[tuple[str, str]] = field(default_factory=list)
    qemu_found: str | None = None  # the binary that answered --version
    kvm_usable: bool = False

    @property
    def explicit(self) -> bool:
        return self.qemu_binary is not None


ProbeSection = Callable[[ProbeContext], None]


def behaviour_lines(behaviour: dict[str, Any]) -> list[str]:
    """The measured table as text rows for ``seoib probe``."""
    verdict = "as the rules predict" if behaviour["as_rules_predict"] else "DIFFERS from the rules"
    lines = [f"behaviour   measured {verdict} (x2apic-api {behaviour['x2apic-api']})"]
    for row in behaviour["modes"]:
        mark = "ok  " if row["agrees"] else "DIFF"
        if row["enable_cap"] != "ok":
            detail = f"ENABLE_CAP {row['enable_cap']}"
        else:
            honoured = "honoured" if row["suppression_honored"] else "no"
            detail = (f"LVR24={row['lvr_bit24']} SVR12={row['svr_bit12']} "
                      f"EOI exits={row['eoi_exits']} suppression={honoured}")
        lines.append(f"  {mark} {row['irqchip']:<5} {row['mode']:<8} {detail}")
    for check in behaviour["checks"]:
        mark = "ok  " if check["agrees"] else "DIFF"
        lines.append(f"  {mark} {check['name']}: {check['result']}")
    lines += [f"  ! {d}" for d in behaviour["disagreements"]]
    return lines
