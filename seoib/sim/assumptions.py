"""The named switches for what nobody has confirmed, as the simulator reads them.

Where a behaviour is an assumption rather than a fact read in a source, the rules
and the simulator both read one named switch instead of each hard-coding a
reading (docs/domain.md, "Assumptions a site can switch"). The rules keep each
switch's default, values and source in rules/assumptions.yaml; the witness hands
the simulator the values in force, and this module is the only way they enter
it: the simulator reads these switches and nothing else of the rules.

``SWITCHES`` names each switch the simulator knows with its own default, which
tests hold equal to the rules' default. The one that is a QEMU version
(``machine-gated-gate``) has no default here: it is a rule datum, and the simulator
holds no version of its own (the witness and ``seoib simulate`` always pass the
rules' value; without it a machine-gated build raises ValueError). A switch the
rules define and the simulator does not know is refused (ValueError): a verdict
resting on it cannot be re-derived.

>>> Assumptions().get("linux-sets-svr12")
'no'
>>> Assumptions((("machine-gated-gate", "1.2"),)).gate()
(1, 2)
"""

from __future__ import annotations

import re

from .frozen import Value

__all__ = ["DEFAULT", "SWITCHES", "Assumptions", "Switch"]

_RELEASE = re.compile(r"^(\d+)\.(\d+)$")


class Switch(Value):
    """One switch: its default (None: only the rules give it) and the values it takes
    (None: a machine type version X.Y)."""

    default: str | None
    values: tuple[str, ...] | None
    doc: str

    def __init__(self, default: str | None, values: tuple[str, ...] | None, doc: str) -> None:
        self._store(default=default, values=values, doc=doc)

    def check(self, name: str, value: str) -> None:
        if self.values is None:
            if not (isinstance(value, str) and _RELEASE.match(value)):
                raise ValueError(f"assumption {name}: {value!r} is not a machine type version X.Y")
        elif value not in self.values:
            raise ValueError(f"assumption {name}: {value!r} is not one of {', '.join(self.values)}")


YES_NO = ("yes", "no")
SWITCHES: dict[str, Switch] = {
    "linux-sets-svr12": Switch("no", YES_NO, "Linux sets SVR bit 12 when LVR bit 24 offers it"),
    "windows-sets-svr12": Switch("no", YES_NO,
                                 "Windows without Hyper-V sets SVR bit 12 when LVR bit 24 offers it"),
    "machine-gated-gate": Switch(None, None,
                                 "the first machine type version machine-gated selects a policy for"),
    "machine-gated-unversioned": Switch("yes", YES_NO,
                                        "machine-gated selects a policy for unversioned machine types"),
    "accel-property-default": Switch("quirked", ("quirked", "respected", "not-advertised"),
                                     "accel-property's policy without -accel kvm,seoib-policy="),
    "accel-property-refusal": Switch("stop", ("stop", "quirked"),
                                     "what an accel-property build does when KVM refuses the flag"),
    "accel-property-in-kernel": Switch("yes", YES_NO,
                                       "accel-property sets the flags with the in-kernel irqchip too"),
}


class Assumptions(Value):
    """The switches in force: ``values`` are the (name, value) pairs that differ from
    the defaults, sorted; every other switch has its default."""

    values: tuple[tuple[str, str], ...]

    def __init__(self, values: tuple[tuple[str, str], ...] = ()) -> None:
        for name, value in values:
            switch = SWITCHES.get(name)
            if switch is None:
                raise ValueError(f"the simulator has no model of assumption {name!r}")
            switch.check(name, value)
        # Only what differs from a default is kept: equal worlds are equal values (and
        # share the witness's cached runs).
        self._store(values=tuple(sorted((n, v) for n, v in dict(values).items()
                                        if v != SWITCHES[n].default)))

    def get(self, name: str) -> str | None:
        """The value of switch ``name`` (its default when not set; None: neither)."""
        for key, value in self.values:
            if key == name:
                return value
        return SWITCHES[name].default

    def yes(self, name: str) -> bool:
        """A yes/no switch as a bool."""
        return self.get(name) == "yes"

    def gate(self) -> tuple[int, int]:
        """``machine-gated-gate`` as (major, minor); ValueError when nobody gave it."""
        value = self.get("machine-gated-gate")
        if value is None:
            raise ValueError("the machine-gated design needs the assumption machine-gated-gate "
                             "(rules/assumptions.yaml gives it; pass Assumptions with it)")
        match = _RELEASE.match(value)
        assert match is not None  # checked when set
        return int(match.group(1)), int(match.group(2))


DEFAULT = Assumptions()
