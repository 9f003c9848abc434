"""Probe this host: kernel release, KVM's x2APIC API mask, the QEMU binary and its machines.

The probe is a list of sections (:data:`SECTIONS`), run in order on one
:class:`ProbeContext`; a section adds host-spec keys (``spec``), notes, measured
facts (``measured[<section>]``, reported but never part of the host spec) and
warnings (a measured fact the rules do not predict). A new measurement is one
function appended to the list.

Every probe that cannot run (no /dev/kvm, no permission, no QEMU) is a note and an
omitted key, never a failure: other modules fall back to version inference. A QEMU
binary named with ``--qemu`` that floods, hangs or is not QEMU is bad input (exit 3).
Side effects are one ioctl, two bounded QEMU runs and a few paused QEMU starts,
all injectable for tests.
"""

from __future__ import annotations

import errno
import fcntl
import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import BadInput, Location
from .probe_model import (
    RUN_TIMEOUT,
    X2APIC_API_FLAGS,
    Ioctl,
    ProbeContext,
    ProbeResult,
    ProbeSection,
    Runner,
    decode_x2apic_api,
)
from .qmp import QemuError, run_bounded

if TYPE_CHECKING:
    from ..rules.ruleset import RuleSet

__all__ = [
    "KVM_CAP_SPLIT_IRQCHIP",
    "KVM_CAP_X2APIC_API",
    "KVM_CHECK_EXTENSION",
    "SECTIONS",
    "X2APIC_API_FLAGS",
    "ProbeContext",
    "ProbeResult",
    "ProbeSection",
    "check_extension",
    "decode_x2apic_api",
    "parse_machine_help",
    "parse_qemu_version",
    "probe_host",
]

# Linux include/uapi/linux/kvm.h: "#define KVMIO 0xAE",
# "#define KVM_CHECK_EXTENSION _IO(KVMIO, 0x03)"; _IO(type, nr) = (type << 8) | nr.
KVMIO = 0xAE
KVM_CHECK_EXTENSION = (KVMIO << 8) | 0x03
# Same header: "#define KVM_CAP_SPLIT_IRQCHIP 121", "#define KVM_CAP_X2APIC_API 129".
KVM_CAP_SPLIT_IRQCHIP = 121
KVM_CAP_X2APIC_API = 129
QEMU_CANDIDATES = ("qemu-system-x86_64", "qemu-kvm", "/usr/libexec/qemu-kvm")


def check_extension(fd: int, cap: int) -> int:
    """KVM_CHECK_EXTENSION on ``fd``: the ioctl's return value (0 = not supported)."""
    return fcntl.ioctl(fd, KVM_CHECK_EXTENSION, cap)


_VERSION = re.compile(r"QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?\s*(?:\((.*)\))?")


def parse_qemu_version(text: str) -> tuple[str, str | None]:
    """``QEMU emulator version X.Y.Z (package)`` -> ("X.Y.Z", "package"); X.Y gets ".0"."""
    m = _VERSION.search(text)
    if not m:
        raise ValueError("no 'QEMU emulator version' line")
    major, minor, micro, package = m.groups()
    return f"{major}.{minor}.{micro or 0}", (package or None)


_ALIAS = re.compile(r"^(?P<desc>.*?)\s*\(alias of (?P<target>[^()\s]+)\)$")


def parse_machine_help(text: str) -> tuple[list[str], dict[str, str], str | None]:
    """Parse ``-machine help``: machine names, {alias: target}, the default machine.

    QEMU prints ``"%-20s %s (alias of %s)"`` for an alias, then ``"%-20s %s%s%s"`` for
    the type itself with " (default)" / " (deprecated)" markers (system/vl.c).
    """
    machines: list[str] = []
    aliases: dict[str, str] = {}
    default = None
    lines = text.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.startswith("Supported machines are"))
    except StopIteration:
        raise ValueError("no 'Supported machines are:' header") from None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        name, _, desc = line.strip().partition(" ")
        desc = desc.strip()
        m = _ALIAS.match(desc)
        if m:
            aliases[name] = m.group("target")
            continue
        machines.append(name)
        if desc.endswith("(default)") or "(default) " in desc:
            default = name
    return machines, aliases, default


def _probe_kvm(ctx: ProbeContext) -> None:
    kvm_path, spec, notes = ctx.kvm_path, ctx.spec, ctx.notes
    fallback = "x2apic-api omitted; the kernel release decides by version inference"
    try:
        fd = os.open(kvm_path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        notes.append(f"{kvm_path} is absent (no KVM here): {fallback}")
        return
    except PermissionError:
        notes.append(f"{kvm_path}: permission denied (join the kvm group?): {fallback}")
        return
    except OSError as err:
        notes.append(f"{kvm_path}: cannot open ({err.strerror or err}): {fallback}")
        return
    try:
        mask = ctx.ioctl(fd, KVM_CAP_X2APIC_API)
        split = ctx.ioctl(fd, KVM_CAP_SPLIT_IRQCHIP)
    except OSError as err:
        reason = "not a KVM device" if err.errno == errno.ENOTTY else (err.strerror or str(err))
        notes.append(f"KVM_CHECK_EXTENSION on {kvm_path} failed ({reason}): {fallback}")
        return
    finally:
        os.close(fd)
    ctx.kvm_usable = True
    spec["x2apic-api"] = f"0x{mask:x}"
    flags = ", ".join(decode_x2apic_api(mask)) or "none"
    notes.append(f"KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) on {kvm_path} = 0x{mask:x} ({flags})")
    notes.append(f"KVM_CHECK_EXTENSION(KVM_CAP_SPLIT_IRQCHIP) = {split}")


def _find_qemu() -> str | None:
    for cand in QEMU_CANDIDATES:
        found = shutil.which(cand)
        if found:
            return found
    return None


def _ask(ctx: ProbeContext, binary: str, argv: Sequence[str]) -> tuple[int, str] | None:
    """Run the binary; a failure is exit 3 for a binary the user named, else a note."""
    try:
        return ctx.run([binary, *argv])
    except (OSError, subprocess.SubprocessError, QemuError) as err:
        message = err.message if isinstance(err, QemuError) else f"cannot run {binary}: {err}"
        if ctx.explicit:
            raise BadInput(message, Location("--qemu")) from None
        ctx.notes.append(f"{message}: qemu omitted")
        return None


def _probe_qemu(ctx: ProbeContext) -> None:
    spec, notes = ctx.spec, ctx.notes
    binary = ctx.qemu_binary if ctx.explicit else _find_qemu()
    if binary is None:
        notes.append(f"no QEMU binary found ({', '.join(QEMU_CANDIDATES)}): qemu omitted")
        return
    answer = _ask(ctx, binary, ["--version"])
    if answer is None:
        return
    rc, out = answer
    try:
        version, package = parse_qemu_version(out)
    except ValueError:
        msg = f"{binary} --version (exit {rc}) does not say 'QEMU emulator version'"
        if ctx.explicit:
            raise BadInput(msg, Location("--qemu")) from None
        notes.append(f"{msg}: qemu omitted")
        return
    spec["qemu"] = version
    ctx.qemu_found = binary
    notes.append(
        f"{binary}: QEMU {version}"
        + (f" (build {package}: a distribution build may carry backports)" if package else "")
    )
    answer = _ask(ctx, binary, ["-machine", "help"])
    if answer is None:
        return
    try:
        machines, aliases, default = parse_machine_help(answer[1])
    except ValueError as err:
        notes.append(f"{binary} -machine help gave no machine list ({err}): machines omitted")
        return
    spec["machines"] = sorted(machines)
    spec["aliases"] = dict(sorted(aliases.items()))
    if default:
        notes.append(f"default machine type: {default}")


def _probe_machine_facts(ctx: ProbeContext, all_machines: bool = False) -> None:
    from .probe_machines import probe_machine_facts

    probe_machine_facts(ctx, all_machines)


def _probe_kvm_host(ctx: ProbeContext) -> None:
    """Which KVM answers and whether it processes a guest's EOI at delivery (measured)."""
    if not ctx.kvm_usable:
        return
    from ..kvmhost.host import detect

    host = detect(ctx.kvm_path)
    ctx.measured["kvm_host"] = host.as_json()
    ctx.text.append(("kvm", host.describe()))


# Run in this order: later sections read what earlier ones found (the QEMU binary,
# whether /dev/kvm is usable).
SECTIONS: list[tuple[str, ProbeSection]] = [
    ("kvm", _probe_kvm),
    ("kvm_host", _probe_kvm_host),
    ("qemu", _probe_qemu),
    ("qemu_machines", _probe_machine_facts),
]


def probe_host(
    *,
    kvm_path: str = "/dev/kvm",
    qemu_binary: str | None = None,
    ioctl: Ioctl | None = None,
    run: Runner | None = None,
    rules: Callable[[], RuleSet] | None = None,
    sections: Sequence[tuple[str, ProbeSection]] | None = None,
    timeout: float = RUN_TIMEOUT,
    all_machines: bool = False,
) -> ProbeResult:
    """Probe the host this runs on.

    ``ioctl(fd, cap) -> int`` replaces :func:`check_extension` and ``run(argv) ->
    (returncode, output)`` replaces running QEMU, so tests need neither KVM nor QEMU;
    ``sections`` replaces :data:`SECTIONS`. ``rules`` loads the rule set the
    measured facts are held against (without it they are reported, not compared).
    ``all_machines`` starts every registered machine type, not a sample.
    """
    ctx = ProbeContext(kvm_path, qemu_binary, ioctl or check_extension,
                       run or (lambda argv: run_bounded(argv, timeout=timeout)), rules, timeout)
    ctx.spec.update({"name": socket.gethostname(), "kernel": platform.release()})
    ctx.notes.append(
        "seoib (the QEMU build's SEOIB implementation) is not probed: upstream QEMU shows "
        "no marker for it; the rules' default for the QEMU version applies"
    )
    for name, section in SECTIONS if sections is None else sections:
        if name == "qemu_machines" and all_machines:
            _probe_machine_facts(ctx, all_machines=True)
            continue
        section(ctx)
    return ProbeResult(spec=ctx.spec, notes=tuple(ctx.notes), measured=ctx.measured,
                       warnings=tuple(ctx.warnings), text=tuple(ctx.text))
