"""The probe section that reads the QEMU binary's machine facts and holds them to the rules.

Contract: where a QEMU binary answered ``--version`` and /dev/kvm is usable, ask it
``query-machines``, then start its machine types paused, each in every kernel-irqchip
mode: QEMU's default, ``on`` and ``split`` (:data:`MODES`). By default a sample: the
default type and the newest type of each compat class the rules know
(:func:`~seoib.inputs.machine_check.relevant_types`), which covers every value the
rules predict; with ``all_machines`` every registered type the rules know. The
result says which it did (``measured["qemu_machines"]["sampled"]``, a text row) and
how to ask for the rest. Every difference from the rules is a warning; the facts go
to ``measured["qemu_machines"]``. The section keeps to a time budget (:data:`BUDGET`
for the sample, :data:`BUDGET_PER_START` a start for the full run); what it could
not reach is a note, never a failure.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import SeoibError
from .machine_check import compare, predict, registration_differences, relevant_types, split_known
from .qemu_machines import list_machines, observe
from .qmp import QemuError

if TYPE_CHECKING:
    from ..rules.ruleset import RuleSet
    from .probe_model import ProbeContext

__all__ = ["BUDGET", "BUDGET_PER_START", "MODES", "probe_machine_facts"]

BUDGET = 20.0  # seconds for the sample; one paused start takes ~0.1-0.3 s on KVM
BUDGET_PER_START = 2.0  # seconds a start for the full run
START_TIMEOUT = 2.0
# kernel-irqchip as given to QEMU: None = its default for the type, then each mode.
MODES: tuple[str | None, ...] = (None, "on", "split")


def probe_machine_facts(ctx: ProbeContext, all_machines: bool = False) -> None:
    binary = ctx.qemu_found
    if binary is None:
        return
    if not ctx.kvm_usable:
        ctx.notes.append("QEMU machine facts not read: the irqchip modes need a usable /dev/kvm")
        return
    started = time.monotonic()
    try:
        entries = list_machines(binary, timeout=START_TIMEOUT)
    except QemuError as err:
        ctx.notes.append(f"QEMU machine facts not read: {err.message}")
        return
    default = next((e.name for e in entries if e.default), None)
    facts: dict[str, Any] = {
        "binary": binary, "registered": len(entries), "default": default,
        "aliases": {e.alias: e.name for e in entries if e.alias}}
    ctx.measured["qemu_machines"] = facts
    if ctx.rules is None:
        ctx.notes.append("QEMU machine facts not compared: no rule set given")
        return
    try:
        rs = ctx.rules()
    except SeoibError as err:
        ctx.notes.append(f"QEMU machine facts not compared: the rules do not load ({err})")
        return
    catalog = rs.resolver.machines
    names = [e.name for e in entries]
    known, unknown = split_known(catalog, names)
    facts["unknown_to_rules"] = unknown
    _compare_registration(ctx, rs, names, facts)
    sample = sorted(known) if all_machines else relevant_types(catalog, names, default)
    facts["sampled"] = {"all": all_machines, "types": sample, "of": len(known),
                        "modes": [m or "default" for m in MODES]}
    checked: list[dict[str, Any]] = []
    facts["checked"] = checked
    starts = [(m, o) for m in sample for o in MODES]
    deadline = started + (BUDGET_PER_START * len(starts) if all_machines else BUDGET)
    for n, (machine, option) in enumerate(starts):
        if time.monotonic() > deadline:
            ctx.notes.append(f"QEMU machine facts: the time budget was spent after {n} of "
                             f"{len(starts)} paused starts")
            break
        try:
            obs = observe(binary, machine, option, timeout=START_TIMEOUT)
        except QemuError as err:
            ctx.warnings.append(f"{machine}: QEMU did not start it ({err.message}); the rules "
                                "say it runs")
            continue
        pred = predict(catalog, machine, option)
        differences = compare(pred, obs)
        ctx.warnings += differences
        checked.append({**obs.as_json(), "rules": pred.as_json(), "agrees": not differences})
    _summarise(ctx, facts, len(known), checked)


def _compare_registration(ctx: ProbeContext, rs: RuleSet, names: list[str],
                          facts: dict[str, Any]) -> None:
    try:
        ctx.warnings += registration_differences(rs.resolver, str(ctx.spec.get("qemu", "")), names,
                                                 facts["aliases"])
    except SeoibError as err:
        ctx.notes.append(f"machine types and aliases not compared: {err.message}")


def _summarise(ctx: ProbeContext, facts: dict[str, Any], known: int,
               checked: list[dict[str, Any]]) -> None:
    sampled = facts["sampled"]
    bad = sum(1 for c in checked if not c["agrees"])
    verdict = "agree with the rules" if not bad else f"{bad} disagree with the rules"
    ctx.text.append(("qemu types", f"{facts['registered']} registered, {known} known to the "
                     f"rules, not yet: {', '.join(facts['unknown_to_rules']) or 'none'}"))
    which = ("every type the rules know" if sampled["all"] else
             f"a sample of {len(sampled['types'])} of {sampled['of']} types (the default and the "
             "newest of each compat class; --all-machines starts every one)")
    ctx.text.append(("checked", f"{len(checked)} paused starts on KVM, {which}, each with "
                     f"kernel-irqchip default, on and split: {verdict}" if checked else
                     "no paused start completed (see notes)"))
    for c in checked:
        if c["rules"]["apic"] is False and c["kernel_irqchip"] == "default":
            ctx.text.append(("no IOAPIC", f"{c['machine']}: no LAPIC and no IOAPIC (QEMU built "
                             f"{'none' if not c['ioapics'] and c['lapic'] is None else 'some'})"))
