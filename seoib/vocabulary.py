"""The engine's closed vocabularies, each listed once: every other module imports from here.

What a verdict or a spec may say by name - SEOIB policies, VM spec keys, host
spec keys, verdict severities and their order - lives in this module only, so a
new word is one edit. It imports nothing, so the lightest readers (input
parsers, plan files) can use it. The simulator (seoib/sim) keeps its own
lists on purpose: as an independent oracle it must not read the engine's.

>>> worst_severity(["ok", "block", "warn"])
'block'
>>> worst_severity([])
'ok'
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "EXIT_BY_SEVERITY", "HOST_SPEC_KEYS", "SEOIB_POLICIES", "SEVERITIES", "SEVERITY_RANK",
    "VM_SPEC_KEYS", "worst_severity",
]

# The SEOIB policies a VM can get at power-on (the -accel kvm,seoib-policy= values).
SEOIB_POLICIES = ("quirked", "respected", "not-advertised")

# The keys of a host and a VM spec as written (a spec's optional "name" aside).
HOST_SPEC_KEYS = ("kernel", "x2apic-api", "qemu", "seoib", "machines")
VM_SPEC_KEYS = ("machine", "irqchip", "ioapic", "x2apic", "guest", "seoib-policy")

# Verdict severities, mildest first; a severity's rank is also its exit code.
SEVERITIES = ("ok", "warn", "block")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
EXIT_BY_SEVERITY = SEVERITY_RANK


def worst_severity(severities: Iterable[str]) -> str:
    """The most severe of ``severities``; ``ok`` when there are none."""
    return max(severities, key=SEVERITY_RANK.__getitem__, default="ok")
