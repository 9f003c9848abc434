"""Power-on: start one VM paused and read what QEMU built and what it asked of KVM.

Contract: :func:`observe_poweron` starts ``vm`` paused (``-S``) on ``binary``
through the KVM shim and reports, through QMP, CPU 0's LAPIC model and every
IOAPIC with its version (``info qtree``) - so the irqchip mode QEMU chose - and,
from the shim's log, every ``KVM_ENABLE_CAP(KVM_CAP_X2APIC_API)`` made: the SEOIB
flags KVM holds, hence the policy (0x4 respected, 0x8 not-advertised, none
quirked; ``n/a`` without a KVM LAPIC). On a build with the RFC's trace events,
the ``kvm_lapic_seoib_*`` lines it printed are kept too, with any warning. A
refusal to start is an observation (``started: false`` with QEMU's message),
not an error of the lab.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ..inputs.qemu_machines import KVM_IOAPIC, KVM_LAPIC, MachineObservation, parse_qtree_ioapics
from .binary import QemuBinary
from .context import LabContext
from .kernels import KernelView
from .observation import Observation
from .qemu_run import QemuFailed, QemuProcess
from .shimlog import ShimLog, read_shim_log
from .vm import LabVM

__all__ = ["observe_poweron", "policy_of", "trace_args", "trace_lines"]

_TRACE = re.compile(r"(kvm_lapic_seoib_\w+)\s*(.*)$")
_POLICY_BY_FLAGS = {0x4: "respected", 0x8: "not-advertised", 0x0: "quirked"}


def trace_args(binary: QemuBinary) -> list[str]:
    """``-trace`` for the SEOIB events of a build that has them (the log back end, stderr)."""
    return ["-trace", "kvm_lapic_seoib*"] if binary.design == "rfc-v2" else []


def trace_lines(stderr: str) -> list[str]:
    """The SEOIB trace events and warnings a QEMU printed, without pid and time stamps."""
    out = []
    for line in stderr.splitlines():
        m = _TRACE.search(line)
        if m:
            out.append(f"{m.group(1)} {m.group(2)}".strip())
        elif "warning:" in line and "CPUID" not in line:  # a missing CPU feature is not news
            out.append(f"warning: {line.split('warning:', 1)[1].strip()}")
    return out


def policy_of(irqchip: str | None, shim: ShimLog) -> str:
    if irqchip not in ("on", "split"):
        return "n/a"
    return _POLICY_BY_FLAGS.get(shim.seoib_flags, f"flags 0x{shim.seoib_flags:x}")


def _lapic(q: QemuProcess) -> str | None:
    cpus = q.execute("query-cpus-fast")
    if not isinstance(cpus, list) or not cpus:
        return None
    try:
        kind = q.execute("qom-get", {"path": f"{cpus[0]['qom-path']}/lapic", "property": "type"})
    except QemuFailed:
        return None  # a CPU without a LAPIC
    return kind if isinstance(kind, str) else None


def observe_poweron(ctx: LabContext, binary: QemuBinary, vm: LabVM, view: KernelView) -> Observation:
    start = time.monotonic()
    name = ctx.name("poweron")
    log = ctx.rundir / f"{name}.shim"
    obs = Observation(
        kind="power-on", id=f"power-on {binary.label} {vm.label} kernel={view.name}",
        binaries={"binary": binary.label}, kernels={"binary": view.name},
        cmdline=vm.cmdline(binary.path, ctx.native.guest),
        engine_input={"query": "policy", "host": ctx.host_spec(binary, view),
                      "vm": ctx.vm_spec(vm, binary, view, guest=False)})
    facts: dict[str, Any] = {"started": False}
    argv = vm.argv(binary.path, ctx.native.guest, extra=trace_args(binary))
    try:
        with QemuProcess(argv, ctx.rundir, name, env=view.env(ctx.native.shim, log),
                         timeout=ctx.timeout) as q:
            qtree = q.execute("human-monitor-command", {"command-line": "info qtree"})
            seen = MachineObservation(vm.machine, vm.irqchip, _lapic(q),
                                      parse_qtree_ioapics(qtree if isinstance(qtree, str) else ""))
            facts["started"] = True
            # No IOAPIC device (isapc) leaves in-kernel and split alike: say so, never guess.
            facts["irqchip"] = (seen.irqchip if seen.ioapics or seen.lapic != KVM_LAPIC
                                else vm.irqchip or "unknown (no IOAPIC device)")
            facts["lapic"] = seen.lapic
            facts["ioapics"] = [{"type": d.type, "version": d.version} for d in seen.ioapics]
            # microvm with the in-kernel irqchip has KVM's IOAPIC and a second, QEMU's (0x20)
            facts["ioapic"] = ("in-kernel" if any(d.type == KVM_IOAPIC for d in seen.ioapics)
                               else seen.ioapics[0].version if seen.ioapics else None)
            stderr = q.stderr()
    except QemuFailed as err:
        facts["failure"] = err.message
        stderr = ""
    shim = read_shim_log(log)
    facts["shim"] = shim.as_json()
    if facts["started"]:
        # the policy is KVM's LAPIC's: any irqchip mode with kvm-apic has one
        facts["policy"] = policy_of("on" if facts["lapic"] == KVM_LAPIC else "off", shim)
        facts["trace"] = trace_lines(stderr)
    obs.observed = facts
    obs.seconds = time.monotonic() - start
    return obs
