"""Terminal text: the verdict first, then why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .verdict_types import MigrateVerdict, PolicyVerdict

__all__ = ["ioapic_words", "render_migrate", "render_policy", "render_state"]

_TAG = {"ok": "OK", "warn": "WARN", "block": "BLOCK"}


def render_state(state: Mapping[str, Any] | None) -> str:
    if not state:
        return "never runs"
    lvr = "set" if state["lvr_seoib"] else "clear"
    honored = "honored" if state["suppression_honored"] else "not honored"
    return (f"policy {state['policy']}, kvm_flags {state['kvm_flags']:#x}, LVR bit 24 {lvr}, "
            f"suppression {honored}")


def _vm_line(vm: dict[str, Any]) -> str:
    machine = vm["machine"]
    if vm["requested_machine"] != machine:
        machine = f"{vm['requested_machine']} -> {machine}"
    x2 = "x2APIC" if vm["x2apic"] else "no x2APIC"
    return (f"{machine}, irqchip {vm['irqchip']}, {_ioapic(vm)}, {x2}, "
            f"guest {vm['guest']}")


def _ioapic(vm: dict[str, Any]) -> str:
    seen = vm.get("ioapics")
    if seen is None:  # a verdict built before the field existed: KVM's is always 0x11
        return "in-kernel IOAPIC 0x11" if vm["irqchip"] == "on" else f"IOAPIC {vm['ioapic']}"
    return ioapic_words([(x["device"], x["version"]) for x in seen])


def ioapic_words(seen: Sequence[tuple[str, str]]) -> str:
    """The IOAPICs a guest sees, as a person says them (text verdicts, matrix tables).

    >>> ioapic_words([("kvm-ioapic", "0x11"), ("ioapic", "0x20")])
    'in-kernel IOAPIC 0x11 + IOAPIC 0x20'
    >>> ioapic_words([])
    'no IOAPIC'
    """
    if not seen:
        return "no IOAPIC"
    return " + ".join(f"{'in-kernel ' if d == 'kvm-ioapic' else ''}IOAPIC {v}" for d, v in seen)


def _host_line(host: dict[str, Any]) -> str:
    kernel = host["kernel"] or "?"
    probed = " (probed)" if host["x2apic_api_probed"] else ""
    name = f"{host['name']}: " if host.get("name") else ""
    return (f"{name}kernel {kernel}, x2apic-api {host['x2apic_api']}{probed}, QEMU {host['qemu']}"
            f" ({host['seoib']})")


def _why(lines: list[str], verdict: PolicyVerdict | MigrateVerdict) -> None:
    lines.append("why:")
    for r in verdict["reasons"]:
        mark = " [unconfirmed]" if r.get("confirmed") is False else ""
        lines.append(f"  - {r['text']}{mark}")
        lines.append(f"      {r['rule']} | {r['source']}")
    for note in verdict.get("notes", []):
        lines.append(f"note: {note}")
    if verdict.get("unconfirmed"):
        lines.append("note: rests on unconfirmed assumptions: " + ", ".join(verdict["unconfirmed"]))
    for a in verdict.get("assumptions", []):
        how = (f"set by {a['set_by']}, default {a['default']}" if a["overridden"]
               else "the default; an overlay may switch it")
        lines.append(f"assumes: {a['id']} = {a['value']} ({how})")
    w = verdict["witness"]
    if w.get("agrees") is False:
        lines.insert(0, "ERROR: the simulator does not reproduce this verdict:")
        lines.extend(f"  {d}" for d in w.get("differences", []))
    elif w.get("ran"):
        lines.append(f"simulator: agrees ({w['outcome']}; {_counters(w['counters'])})")
    else:
        lines.append(f"simulator: {w.get('note', 'did not run')}")


def _counters(counters: dict[str, int]) -> str:
    keys = ("deliveries", "eoi_exits", "storms", "stuck_events")
    return ", ".join(f"{k} {counters[k]}" for k in keys if k in counters) or "no events"


def render_policy(v: PolicyVerdict) -> str:
    started = v["outcome"] != "start-fails"  # a VM that never ran has no KVM state to show
    lines = [f"{_TAG[v['severity']]}: {v['outcome']} "
             f"({'policy ' + v['policy'] if started else 'QEMU does not start'})",
             f"  host: {_host_line(v['host'])}",
             f"  vm:   {_vm_line(v['vm'])}",
             f"  KVM:  {render_state(v) if started else 'never runs'}"]
    alts = ", ".join(f"{a['policy']} -> {a['outcome']}" for a in v["alternatives"])
    lines.append(f"  if chosen explicitly: {alts}")
    if len(v["findings"]) > 1:
        lines.append("  findings: " + ", ".join(f["outcome"] for f in v["findings"]))
    _why(lines, v)
    return "\n".join(lines) + "\n"


def render_migrate(v: MigrateVerdict) -> str:
    what = "loadvm of the source's snapshot" if v["mode"] == "snapshot" else "live migration"
    lines = [f"{_TAG[v['severity']]}: {v['outcome']} ({what})",
             f"  src:  {_host_line(v['src'])}",
             f"  dst:  {_host_line(v['dst'])}",
             f"  vm:   {_vm_line(v['vm'])}",
             f"  before: {render_state(v['src_state'])}",
             f"  after:  {render_state(v['dst_state'])}"]
    after = v.get("source_after")
    if after and v["dst_state"] is None:
        lines.append(f"  source: QEMU {after['qemu']}, under libvirt {after['libvirt']}: {after['text']}")
    if len(v["findings"]) > 1:
        lines.append("  findings: " + ", ".join(f["outcome"] for f in v["findings"]))
    _why(lines, v)
    return "\n".join(lines) + "\n"
