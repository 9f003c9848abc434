"""Compile the lab's native parts with the system toolchain: the KVM shim and the guest.

Contract: :func:`build_native` turns the sources shipped in ``seoib/lab/native``
into ``kvm_shim.so`` (an LD_PRELOAD library, built by the C compiler) and
``guest.bin`` (the 64 KiB -bios image: ``cc -m32`` for the C and assembler,
``ld -m elf_i386`` and ``objcopy`` from binutils) inside a directory the caller
owns. The compiler is ``$CC`` or the first of cc, gcc on PATH. A missing tool or
a failed compile is a :class:`LabSetupError` (exit 3) naming the tool and the
first line of its complaint; nothing is left half-built under the final names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import BadInput, Location

__all__ = ["GUEST_SIZE", "LabSetupError", "NativeParts", "build_native"]

GUEST_SIZE = 64 * 1024  # QEMU maps a -bios image of this size at the top of 4 GiB
_GUEST_CFLAGS = ("-m32", "-ffreestanding", "-fno-pic", "-fno-stack-protector",
                 "-mgeneral-regs-only", "-O2", "-fno-asynchronous-unwind-tables", "-nostdlib",
                 "-Wall", "-Wextra")
_TIMEOUT = 60.0


class LabSetupError(BadInput):
    """The lab cannot run on this host as asked: a tool, a device or a binary is missing."""


@dataclass(frozen=True)
class NativeParts:
    shim: Path
    guest: Path
    compiler: str  # the compiler's first --version line

    def as_json(self) -> dict[str, str]:
        return {"compiler": self.compiler}


def _tool(name: str, env: str | None = None) -> str:
    candidates = [os.environ[env]] if env and os.environ.get(env) else []
    candidates += [name] if name != "cc" else ["cc", "gcc"]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise LabSetupError(f"{candidates[0]} not found: the lab compiles its KVM shim and guest "
                        "with the system toolchain (Debian: apt-get install gcc)",
                        Location("seoib lab"))


def _run(argv: list[str], what: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LabSetupError(f"{what}: {argv[0]} could not run ({err})", Location("seoib lab")) from None
    if done.returncode != 0:
        first = next((ln for ln in done.stderr.splitlines() if "error" in ln.lower()),
                     done.stderr.strip().splitlines()[0] if done.stderr.strip() else "no message")
        raise LabSetupError(f"{what} failed ({os.path.basename(argv[0])}): {first.strip()}",
                            Location("seoib lab"))
    return done.stdout


def _sources() -> Path:
    return Path(str(resources.files("seoib.lab").joinpath("native")))


def build_native(workdir: Path) -> NativeParts:
    """Compile the shim and the guest into ``workdir``."""
    cc, ld, objcopy = _tool("cc", "CC"), _tool("ld"), _tool("objcopy")
    src = _sources()
    version = _run([cc, "--version"], "asking the C compiler its version").splitlines()[0]
    shim = workdir / "kvm_shim.so"
    _run([cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(shim) + ".part",
          str(src / "kvm_shim.c"), "-ldl", "-lpthread"], "compiling the KVM shim")
    os.replace(str(shim) + ".part", shim)
    objs = []
    for name in ("start.S", "guest.c"):
        obj = workdir / (name.rsplit(".", 1)[0] + ".o")
        # -m32 compiles without a 32-bit C library: nothing here includes or links one
        _run([cc, *_GUEST_CFLAGS, "-c", str(src / "guest" / name), "-o", str(obj)],
             f"compiling the guest's {name} (cc -m32)")
        objs.append(str(obj))
    elf = workdir / "guest.elf"
    _run([ld, "-m", "elf_i386", "--build-id=none", "-T", str(src / "guest" / "guest.ld"),
          "-o", str(elf), *objs], "linking the guest (ld -m elf_i386)")
    guest = workdir / "guest.bin"
    _run([objcopy, "-O", "binary", str(elf), str(guest) + ".part"], "extracting the guest image")
    size = os.path.getsize(str(guest) + ".part")
    if size != GUEST_SIZE:
        raise LabSetupError(f"the guest image is {size} bytes, not {GUEST_SIZE}: the linker "
                            "script was not followed", Location("seoib lab"))
    os.replace(str(guest) + ".part", guest)
    return NativeParts(shim, guest, version)
