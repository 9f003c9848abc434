"""What the lab knows of a QEMU binary before it starts a VM: identity and provenance.

Contract: :func:`describe_binary` asks ``BINARY --version`` (release and package
string), reads the ELF build id, asks ``query-machines`` (the machine types it
registers, paused on KVM), lists its trace events and records the SEOIB design
they show: a build that carries the RFC v2 patch has the trace event
``kvm_lapic_seoib_set_state`` ("[RFC PATCH v2] target/i386/kvm: Configure proper
KVM SEOIB behavior", 9 Mar 2026); upstream QEMU has none, and then the rules'
default for the release applies. A ``BUILD-INFO`` file written by
tools/build-qemu.sh beside the build directory is kept as the build's recipe.
Anything the binary cannot answer is a :class:`~seoib.lab.toolchain.LabSetupError`.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Location
from ..inputs.probe import parse_qemu_version
from ..inputs.qemu_machines import list_machines
from ..inputs.qmp import QemuError, run_bounded
from .toolchain import LabSetupError

__all__ = ["QemuBinary", "describe_binary", "elf_build_id"]

RFC_V2_TRACE = "kvm_lapic_seoib_set_state"


@dataclass(frozen=True)
class QemuBinary:
    path: str
    version: str  # "7.2.22"
    package: str | None  # "Debian 1:7.2+dfsg-7+deb12u18+b3"
    build_id: str  # the ELF build id, or "sha256:<digest>" for a binary without one
    machines: tuple[str, ...]
    default_machine: str | None
    design: str | None  # "rfc-v2" where the binary shows it; None: the rules' default
    design_from: str
    build_info: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short name for reports: ``qemu-7.2.22`` or ``qemu-10.0.13+rfc-v2``."""
        return f"qemu-{self.version}" + (f"+{self.design}" if self.design else "")

    def host_keys(self) -> dict[str, str]:
        """The host spec keys this binary decides."""
        keys = {"qemu": self.version}
        if self.design:
            keys["seoib"] = self.design
        return keys

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "label": self.label, "version": self.version,
                "package": self.package, "build_id": self.build_id,
                "machines": len(self.machines), "default_machine": self.default_machine,
                "design": self.design, "design_from": self.design_from,
                "build_info": self.build_info or None}


def elf_build_id(path: str) -> str | None:
    """The GNU build id note of a 64-bit little-endian ELF file, as hex; None without one."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:6] != b"\x7fELF\x02\x01":
                return None
            shoff, = struct.unpack_from("<Q", head, 0x28)
            shentsize, shnum = struct.unpack_from("<HH", head, 0x3A)
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            for i in range(shnum):
                _, sh_type, _, _, offset, size = struct.unpack_from("<IIQQQQ", table, i * shentsize)
                if sh_type != 7:  # SHT_NOTE
                    continue
                f.seek(offset)
                note = f.read(min(size, 4096))
                pos = 0
                while pos + 12 <= len(note):
                    namesz, descsz, kind = struct.unpack_from("<III", note, pos)
                    name_end = pos + 12 + ((namesz + 3) & ~3)
                    if kind == 3 and note[pos + 12:pos + 12 + namesz].rstrip(b"\0") == b"GNU":
                        return note[name_end:name_end + descsz].hex()
                    pos = name_end + ((descsz + 3) & ~3)
    except (OSError, struct.error):
        return None
    return None


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _build_info(path: str) -> dict[str, str]:
    info = Path(path).resolve().parent.parent / "BUILD-INFO"
    try:
        text = info.read_text(encoding="utf-8", errors="replace")[:8192]
    except OSError:
        return {}
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def describe_binary(path: str) -> QemuBinary:
    where = Location("--qemu")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise LabSetupError(f"{path}: not an executable file", where)
    try:
        rc, out = run_bounded([path, "--version"], timeout=10.0)
        if rc != 0:
            raise LabSetupError(f"{path} --version: exit status {rc}", where)
        version, package = parse_qemu_version(out)
        entries = list_machines(path, timeout=10.0)
        _, events = run_bounded([path, "-trace", "help"], timeout=10.0)
    except QemuError as err:
        raise LabSetupError(f"{path}: {err.message}", where) from None
    except ValueError:
        raise LabSetupError(f"{path}: does not say it is QEMU (--version)", where) from None
    has_rfc = any(line.strip() == RFC_V2_TRACE for line in events.splitlines())
    design, design_from = (("rfc-v2", f"trace event {RFC_V2_TRACE} (RFC v2)") if has_rfc else
                           (None, "no SEOIB trace events: the rules' default for the release"))
    return QemuBinary(path=path, version=version, package=package,
                      build_id=elf_build_id(path) or _sha256(path),
                      machines=tuple(e.name for e in entries),
                      default_machine=next((e.name for e in entries if e.default), None),
                      design=design, design_from=design_from, build_info=_build_info(path))
