"""Write a set of files into a directory so that a failure leaves the old ones intact.

Every file is first written in full to a temporary file in the target
directory (same file system, so the rename is atomic); only when all of them
are on disk are they renamed over the old ones. Any error before that point
removes the temporaries and leaves the directory as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..errors import BadInput, Location

__all__ = ["check_target", "write_atomically"]


def check_target(out: Path, names: list[str]) -> None:
    """BadInput (exit 3) when ``out`` cannot hold the files; nothing is touched."""
    where = Location(str(out))
    if out.exists() and not out.is_dir():
        raise BadInput("output path exists and is not a directory", where)
    parent = out if out.exists() else next((p for p in out.parents if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise BadInput("no existing directory to create the output in", where)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput("output directory is not writable", Location(str(parent)))
    for name in names:
        target = out / name
        if target.exists() and not target.is_file():
            raise BadInput("in the way: exists and is not a regular file", Location(str(target)))


def write_atomically(out: Path, files: Mapping[str, bytes]) -> None:
    check_target(out, list(files))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the output directory: {exc.strerror}",
                       Location(str(out))) from None
    umask = os.umask(0)
    os.umask(umask)
    temps: list[tuple[str, Path]] = []
    try:
        for name, data in files.items():
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
            temps.append((tmp, out / name))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is not what a plain write gives
    except BaseException as exc:  # an interrupt too: drop the temporaries, keep the old files
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise BadInput(f"cannot write the output: {exc.strerror}", Location(str(out))) from None
        raise
    for tmp, target in temps:
        os.replace(tmp, target)
    with contextlib.suppress(OSError):  # make the renames durable where the OS allows it
        fd = os.open(out, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
