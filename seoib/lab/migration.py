"""Migration: a paused VM moved from one binary to another over a unix socket.

Contract: :func:`observe_migration` starts the destination with
``-incoming unix:PATH`` and the source paused, both through the KVM shim (each
with its own kernel view), asks the source to ``migrate`` and follows
``query-migrate`` to its end. What happened is one of:

- ``completed``: the source says completed and the destination lives, paused;
- ``refused``: the destination rejected the stream and exited (QEMU's message
  kept, e.g. "Unknown savevm section or instance 'x86-seoib-state'"); what the
  source then reports (``src_status``) and its run state (``src_runstate``) are kept:
  a source that finished sending before the destination read says "completed";
- ``dest-abort``: the destination died of a signal while loading (SIGABRT after
  "Failed to set KVM LAPIC SEOIB flags"), whatever the source reports;
- ``start-failed``: a side did not start (e.g. a machine type it does not register);
- ``inconclusive``: anything else, with the details.

The SEOIB flags each side asked of KVM (the shim's logs) are kept: the
destination's show what its post_load set. With ``guest``, both sides carry the
lab's guest (seoib/lab/guestrun.py), which has not run yet on the source; after a
completed migration the destination is continued and the guest's counts show what
the migrated VM does on its new host (``observed["guest"]``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .binary import QemuBinary
from .context import LabContext
from .guestrun import LVR_SEOIB, classify, parse_result
from .kernels import KernelView
from .observation import Observation
from .poweron import trace_args, trace_lines
from .qemu_run import Ended, QemuFailed, QemuProcess
from .shimlog import read_shim_log
from .vm import DEBUG_EXIT_DONE, LabVM, guest_devices

__all__ = ["observe_migration"]

_FINAL = ("completed", "failed", "cancelled")


def _follow(src: QemuProcess, deadline: float) -> str:
    while time.monotonic() < deadline:
        info = src.execute("query-migrate")
        status = info.get("status", "none") if isinstance(info, dict) else "none"
        if status in _FINAL:
            return str(status)
        time.sleep(0.02)
    return "timeout"


def _settle(dst: QemuProcess, facts: dict[str, Any], deadline: float) -> Ended | None:
    """Wait for the destination to leave "inmigrate" (loaded) or to die; its end, or None."""
    while time.monotonic() < deadline:
        ended = dst.poll()
        if ended is not None:
            return ended
        try:
            status = dst.execute("query-status")
        except QemuFailed:
            return dst.wait(1.0)
        facts["dst_status"] = status.get("status") if isinstance(status, dict) else None
        if facts["dst_status"] != "inmigrate":
            return None
        time.sleep(0.02)
    return None


def observe_migration(ctx: LabContext, src_bin: QemuBinary, dst_bin: QemuBinary, vm: LabVM,
                      src_view: KernelView, dst_view: KernelView, guest: bool = False) -> Observation:
    start = time.monotonic()
    name = ctx.name("migrate")
    sock = ctx.rundir / f"{name}.sock"
    src_log, dst_log = ctx.rundir / f"{name}-src.shim", ctx.rundir / f"{name}-dst.shim"
    kernels = {"src": src_view.name, "dst": dst_view.name}
    obs = Observation(
        kind="migration",
        id=f"migration {src_bin.label} -> {dst_bin.label} {vm.label} "
           f"kernels={src_view.name}->{dst_view.name}" + (" with the guest" if guest else ""),
        binaries={"src": src_bin.label, "dst": dst_bin.label}, kernels=kernels,
        cmdline=vm.cmdline(src_bin.path, ctx.native.guest),
        engine_input={"query": "migrate", "src": ctx.host_spec(src_bin, src_view),
                      "dst": ctx.host_spec(dst_bin, dst_view),
                      "vm": ctx.vm_spec(vm, src_bin, src_view, guest=guest)},
        host_dependent=ctx.eoi_note() if guest else None)
    facts: dict[str, Any] = {}
    console = ctx.rundir / f"{name}.console"
    devices = guest_devices(console) if guest else []
    dst_argv = vm.argv(dst_bin.path, ctx.native.guest,
                       extra=[*devices, "-incoming", f"unix:{sock}", *trace_args(dst_bin)])
    src_devices = guest_devices(ctx.rundir / f"{name}-src.console") if guest else []
    src_argv = vm.argv(src_bin.path, ctx.native.guest, extra=[*src_devices, *trace_args(src_bin)])
    dst = QemuProcess(dst_argv, ctx.rundir, f"{name}-dst", timeout=ctx.timeout,
                      env=dst_view.env(ctx.native.shim, dst_log))
    src = QemuProcess(src_argv, ctx.rundir, f"{name}-src", timeout=ctx.timeout,
                      env=src_view.env(ctx.native.shim, src_log))
    try:
        facts["outcome"] = _run(dst, src, sock, facts, ctx.timeout)
        if guest and facts["outcome"] == "completed":
            facts["guest"] = _continue_guest(dst, console, ctx.timeout)
    finally:
        src.kill()
        dst.kill()
    facts["src_shim"] = read_shim_log(src_log).as_json()
    facts["dst_shim"] = read_shim_log(dst_log).as_json()
    facts["src_trace"], facts["dst_trace"] = trace_lines(src.stderr()), trace_lines(dst.stderr())
    obs.observed = facts
    obs.seconds = time.monotonic() - start
    return obs


def _continue_guest(dst: QemuProcess, console: Path, timeout: float) -> dict[str, Any]:
    """Let the migrated VM run on the destination; what the guest counted there."""
    try:
        dst.execute("cont")
    except QemuFailed as err:
        return {"outcome": "inconclusive", "why": f"cont refused: {err.message}"}
    ended = dst.wait(timeout)
    try:
        text = console.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    result = parse_result(text)
    outcome, why = classify(result)
    if result is None and ended is not None and ended.code != DEBUG_EXIT_DONE:
        why = f"{why}: {dst.complaint() or ended.describe()}"
    seen: dict[str, Any] = {"outcome": outcome, "why": why, "result": result}
    if result is not None:
        seen["lvr_seoib"] = bool(result.get("lvr", 0) & LVR_SEOIB)
    return seen


def _runstate(proc: QemuProcess) -> str | None:
    try:
        status = proc.execute("query-status")
    except QemuFailed:
        return None
    return status.get("status") if isinstance(status, dict) else None


def _run(dst: QemuProcess, src: QemuProcess, sock: object, facts: dict[str, Any],
         timeout: float) -> str:
    for side, proc in (("dst", dst), ("src", src)):
        try:
            proc.start()
        except QemuFailed as err:
            facts["failure"] = f"{side}: {err.message}"
            return "start-failed"
    try:
        src.execute("migrate", {"uri": f"unix:{sock}"})
        facts["src_status"] = _follow(src, time.monotonic() + timeout)
    except QemuFailed as err:
        facts["src_status"] = "error"
        facts["failure"] = f"src: {err.message}"
    ended = _settle(dst, facts, time.monotonic() + timeout)
    if ended is not None:
        facts["dst_ended"] = ended.as_json()
        facts["dst_message"] = dst.complaint()
        facts["src_runstate"] = _runstate(src)
        if ended.signal:
            return "dest-abort"
        # The destination rejected the stream and exited. The source may still say
        # "completed": a small paused VM is sent whole before the destination reads it,
        # and precopy does not wait for the destination's word (the source then sits
        # in postmigrate, not running).
        return "refused" if ended.code else "inconclusive"
    if facts.get("src_status") == "completed" and facts.get("dst_status") in ("paused", "postmigrate",
                                                                               "prelaunch"):
        return "completed"
    return "inconclusive"
