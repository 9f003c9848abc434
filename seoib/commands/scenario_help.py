"""The scenario format as `seoib simulate --help` prints it (README.md has the same).

The step and expect lists are generated from the scenario tables
(``seoib.sim.scenario.STEPS`` / ``EXPECTS``): ``scenario_format()`` (and
``SCENARIO_FORMAT``, built with it at import) lists each entry's usage,
``scenario_reference()`` adds each entry's doc. A new table entry shows up in both
without an edit here."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable

from seoib.sim.scenario.expect import EXPECTS, NEEDS
from seoib.sim.scenario.steps import LEVELS, STEPS

__all__ = ["SCENARIO_FORMAT", "scenario_format", "scenario_reference"]

_INDENT = " " * 13
_WIDTH = 86
_NBSP = "\x00"  # keeps a mapping shape, e.g. "{pin, vector, trigger, mask}", on one line
_SHAPE = re.compile(r"\{[^}]*\}|: (?=\S)")


def _fill(label: str, items: Iterable[str]) -> str:
    text = ", ".join(_SHAPE.sub(lambda m: m.group().replace(" ", _NBSP), i) for i in items)
    text = text.replace(";,", ";")
    lines = textwrap.wrap(text, _WIDTH, initial_indent=f"  {label:<11}", subsequent_indent=_INDENT,
                          break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines).replace(_NBSP, " ") + "\n"


def _step_items() -> list[str]:
    """Usages by level; the register level is introduced by its name."""
    items: list[str] = []
    for level in LEVELS:
        if level == "check":  # expect has a line of its own
            continue
        usages = [d.usage for d in STEPS.values() if d.level == level]
        if items and usages:
            items[-1] += ";"
            usages[0] = f"{level}{_NBSP}level: {usages[0]}"
        items += usages
    return items


def _expect_items() -> list[str]:
    """Keys with their mapping shape; neighbours of one shape and doc share it (irr/isr/tmr)."""
    items: list[str] = []
    last: tuple[str, str] | None = None
    for key, d in EXPECTS.items():
        if d.arg and last == (d.arg, d.doc):
            items[-1] = items[-1].replace(f": {d.arg}", f"/{key}: {d.arg}")
            continue
        items.append(f"{key}: {d.arg}" if d.arg else key)
        last = (d.arg, d.doc) if d.arg else None
    return items


def scenario_format() -> str:
    """The ``--help`` epilog: fixed prose around the step and expect lists of the tables."""
    return f"""\
scenario format (YAML):
  name: <title>                 optional, with description: <text>
  host: {{seoib: rfc-v2, x2apic-api: 0xf}}       or "seoib=rfc-v2,x2apic-api=0xf"
  vm:   {{irqchip: split, guest: windows-hyperv}}
  steps:
    - boot
    - irqs: 8
    - expect: {{outcome: ok, policy: respected}}

  host keys  x2apic-api (probed KVM_CAP_X2APIC_API mask), split-irqchip, seoib
             (none|rfc-v2|machine-gated|accel-property), qemu-version (the QEMU
             release the design code runs as), machines, name; or kernel=/qemu=
             (resolved through the rules, see --rules)
  vm keys    machine, machine-version, irqchip (on|split|off), ioapic (0x11|0x20),
             ioapic-global, x2apic, guest (linux|windows|windows-hyperv|xen|any),
             seoib-policy
  assume     {{switch: "value"}}: unconfirmed behaviour to run with (the switches
             of rules/assumptions.yaml, e.g. {{windows-sets-svr12: "yes"}})
{_fill("steps", _step_items())}{_fill("expect", _expect_items())}
  A scenario without expect steps runs and reports what happened, and says that
  nothing was checked.

examples shipped with seoib:
  seoib simulate --example              list them
  seoib simulate --example storm        run one (its PASS/FAIL line names the file)

backends: --backend sim (default) runs every step in the simulator; --backend kvm
runs the register-level steps on /dev/kvm and refuses the high-level ones (exit 3).

exit codes: 0 every expectation holds (or none given), 2 one fails, 3 the scenario
is invalid.
"""


SCENARIO_FORMAT = scenario_format()


def _item(name: str, doc: str) -> str:
    return textwrap.fill(f"``{name}``: {doc}", 80, initial_indent="  - ", subsequent_indent="    ",
                         break_long_words=False, break_on_hyphens=False)


def scenario_reference() -> str:
    """Every step and expect key with what it does, grouped as the tables group them."""
    out = ["Steps (a bare name, or a one-key mapping ``{name: argument}``):", ""]
    for level, about in LEVELS.items():
        out.append(textwrap.fill(f"- {about}:", 80, subsequent_indent="  "))
        out += [_item(n, d.doc) for n, d in STEPS.items() if d.level == level]
    out += ["", "``expect: {...}`` keys:", ""]
    for needs, about in NEEDS.items():
        out.append(textwrap.fill(f"- {about}:", 80, subsequent_indent="  "))
        out += [_item(k + (f": {d.arg}" if d.arg else ""), d.doc)
                for k, d in EXPECTS.items() if d.needs == needs]
    return "\n".join(out) + "\n"
