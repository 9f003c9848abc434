"""The probe section that reads the QEMU binary's machine facts and holds them to the rules.

Contract: where a QEMU binary answered ``--version`` and /dev/kvm is usable, ask it
``query-machines``, then start a cheap sample of its machine types paused (the
default type and the newest type of each compat class the rules know; see
:func:`~seoib.inputs.machine_check.relevant_types`): each in QEMU's default irqchip
mode, and where that is in-kernel also with split, so that the userspace IOAPIC's
version shows. Every difference from the rules is a warning; the facts go to
``measured["qemu_machines"]``. The whole section keeps to :data:`BUDGET` seconds;
what it could not reach is a note, never a failure.
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

__all__ = ["BUDGET", "probe_machine_facts"]

BUDGET = 3.0  # seconds for the whole section; one paused start takes ~0.05-0.1 s on KVM
START_TIMEOUT = 2.0


def _modes(default_irqchip: str) -> list[str | None]:
    # In-kernel by default hides the userspace IOAPIC's version: ask split too.
    return [None, "split"] if default_irqchip == "on" else [None]


def probe_machine_facts(ctx: ProbeContext) -> None:
    binary = ctx.qemu_found
    if binary is None:
        return
    if not ctx.kvm_usable:
        ctx.notes.append("QEMU machine facts not read: the irqchip modes need a usable /dev/kvm")
        return
    deadline = time.monotonic() + BUDGET
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
    checked: list[dict[str, Any]] = []
    facts["checked"] = checked
    sample = relevant_types(catalog, names, default)
    starts = [(m, o) for m in sample for o in _modes(predict(catalog, m, None).irqchip)]
    for n, (machine, option) in enumerate(starts):
        if time.monotonic() > deadline:
            ctx.notes.append(f"QEMU machine facts: the {BUDGET:.0f} s budget was spent after {n} of "
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
    types = sorted({c["machine"] for c in checked})
    bad = sum(1 for c in checked if not c["agrees"])
    verdict = "agree with the rules" if not bad else f"{bad} disagree with the rules"
    ctx.text.append(("qemu types", f"{facts['registered']} registered, {known} known to the "
                     f"rules, not yet: {', '.join(facts['unknown_to_rules']) or 'none'}"))
    ctx.text.append(("checked", f"{len(checked)} paused starts on KVM ({', '.join(types)}): "
                     f"{verdict}" if checked else "no paused start completed (see notes)"))
