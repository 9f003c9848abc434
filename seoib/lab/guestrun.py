"""A guest of our own, run for real: storm, stuck or ok is counted, not inferred.

Contract: :func:`observe_guest` boots the lab's guest (seoib/lab/native/guest) on
``vm`` and reads its one result line from isa-debugcon: LVR, SVR as read back,
the IOAPIC version, the interrupts counted while the level line was held (phase
A) and after the line was lowered, the IOAPIC EOI register written and the line
raised again (phase B), and Remote IRR at each step. :func:`classify` turns the
counts into what happened:

- ``storm``: at least :data:`STORM_MIN` deliveries while the line was held -
  Remote IRR was cleared under an asserted line, again and again;
- ``stuck``: no delivery in phase B - Remote IRR was never cleared;
- ``ok``: otherwise, with at least one delivery in phase A;
- ``inconclusive``: no delivery at all, no result line, or the guest faulted;
- ``start-failed``: QEMU refused the configuration (the engine's ``start-fails``).
"""

from __future__ import annotations

import re
import time
from typing import Any

from .binary import QemuBinary
from .context import LabContext
from .kernels import KernelView
from .observation import Observation
from .poweron import policy_of, trace_args, trace_lines
from .qemu_run import QemuFailed, QemuProcess
from .shimlog import read_shim_log
from .vm import DEBUG_EXIT_DONE, LabVM, guest_devices

__all__ = ["STORM_MIN", "classify", "observe_guest", "parse_result"]

# A guest that services the device first still sees two deliveries per raise where KVM
# processes the EOI at delivery (kvm_pvm); a storm re-delivers for as long as the line is
# held (tens in the guest's ~0.1 s windows on kvm_pvm, more on hardware).
STORM_MIN = 8
_RESULT = re.compile(r"^seoib-lab-guest 1 (?P<fields>.*)$", re.M)
_FAULT = re.compile(r"^seoib-lab-guest fault vector=(\d+)", re.M)
_FIELD = re.compile(r"(\w+)=(0x[0-9a-f]+|\d+)")
LVR_SEOIB = 1 << 24
SVR_SEOIB = 1 << 12


def parse_result(console: str) -> dict[str, int] | None:
    m = _RESULT.search(console)
    if not m:
        return None
    return {k: int(v, 0) for k, v in _FIELD.findall(m.group("fields"))}


def classify(result: dict[str, int] | None) -> tuple[str, str]:
    """(outcome, why) from the guest's counts."""
    if result is None:
        return "inconclusive", "the guest wrote no result line"
    a, b = result.get("a", 0), result.get("b", 0)
    if a == 0:
        return "inconclusive", "no interrupt was delivered at all (is the line routed?)"
    if a >= STORM_MIN:
        return "storm", f"{a} deliveries while the line was held (phase A), {b} after re-raising"
    if b == 0:
        return "stuck", (f"{a} deliveries, then none after the line was lowered, the EOI register "
                         f"written and the line raised again (Remote IRR {result.get('rirr_end')})")
    return "ok", f"{a} deliveries while held, {b} after re-raising"


def observe_guest(ctx: LabContext, binary: QemuBinary, vm: LabVM, view: KernelView) -> Observation:
    start = time.monotonic()
    name = ctx.name("guest")
    log, console = ctx.rundir / f"{name}.shim", ctx.rundir / f"{name}.console"
    obs = Observation(
        kind="guest", id=f"guest {binary.label} {vm.label} kernel={view.name}",
        binaries={"binary": binary.label}, kernels={"binary": view.name},
        cmdline=vm.cmdline(binary.path, ctx.native.guest),
        engine_input={"query": "policy", "host": ctx.host_spec(binary, view),
                      "vm": ctx.vm_spec(vm, binary, view, guest=True)},
        host_dependent=ctx.eoi_note())
    facts: dict[str, Any] = {"started": False}
    argv = vm.argv(binary.path, ctx.native.guest, paused=False,
                   extra=[*guest_devices(console), *trace_args(binary)])
    stderr = ""
    try:
        with QemuProcess(argv, ctx.rundir, name, env=view.env(ctx.native.shim, log),
                         timeout=ctx.timeout) as q:
            facts["started"] = True
            ended = q.wait(ctx.timeout)
            stderr = q.stderr()
            facts["ended"] = ended.as_json() if ended else {"code": None, "signal": None,
                                                            "by_lab": True}
            if ended is None or ended.code != DEBUG_EXIT_DONE:
                facts["failure"] = q.complaint() or (ended.describe() if ended else "no exit in time")
    except QemuFailed as err:
        facts["failure"] = err.message
    try:
        text = console.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    result = parse_result(text)
    fault = _FAULT.search(text)
    shim = read_shim_log(log)
    facts.update(result=result, shim=shim.as_json(), trace=trace_lines(stderr))
    if result is not None:
        facts["lvr_seoib"] = bool(result.get("lvr", 0) & LVR_SEOIB)
        facts["svr_seoib"] = bool(result.get("svr", 0) & SVR_SEOIB)
        facts["ioapic"] = f"0x{result.get('ioapic', 0):x}"
    # every irqchip mode the lab runs the guest in (on, split) has KVM's LAPIC
    facts["policy"] = policy_of("on" if facts["started"] else None, shim)
    outcome, why = classify(result)
    if not facts["started"]:
        outcome, why = "start-failed", str(facts.get("failure"))
    elif fault:
        outcome, why = "inconclusive", f"the guest took exception vector {fault.group(1)}"
    elif result is None and facts.get("failure"):
        why = f"{why}: {facts['failure']}"
    facts["outcome"], facts["why"] = outcome, why
    obs.observed = facts
    obs.seconds = time.monotonic() - start
    return obs
