"""Replace the matrix files in a directory as one set, and only a directory we wrote.

The new set is written in full into a fresh sibling directory
(``.<name>.<run id>.tmp`` next to ``--out``, seoib.files.run_id), together with
the old files the run does not regenerate; only then is it swapped in. On Linux
the swap is one ``renameat2(RENAME_EXCHANGE)``, so a reader sees the complete old
set or the complete new set, never a mix; elsewhere it is two renames, and a
reader may find the directory missing for that instant (still never a mix). Any
error or interrupt before the swap removes this run's temporaries and leaves the
directory as it was. A run removes nothing it did not create: another run's
temporaries (even those a killed run left behind) and every other sibling of
``--out`` stay as they are.

``--out`` must be a directory seoib wrote: missing, empty, or holding only
matrix file names next to our own ``matrix.json`` (its ``"format":
"seoib-matrix/`` header) or our ``.seoib-matrix`` marker. Anything else (a
user's README.md in the current directory, a ``.notes.tmp`` file) is refused, so
it is never replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import BadInput, Location
from ..files import run_id

__all__ = ["MARKER", "OWN_NAMES", "check_target", "write_atomically"]

# Every file any --format writes (seoib/matrix/artifacts.FORMATS), and the marker;
# the md format also writes one tables-<design>.md per design of the rules.
OWN_NAMES = frozenset({"migration.csv", "policy.csv", "matrix.json", "README.md", "designs.md",
                       "index.html"})
_DESIGN_TABLE = re.compile(r"tables-[a-z0-9-]+\.md")
MARKER = ".seoib-matrix"  # written only when the set has no matrix.json to recognise it by
_JSON_HEADER = b'"format": "seoib-matrix/'
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _own(name: str) -> bool:
    return name in OWN_NAMES or _DESIGN_TABLE.fullmatch(name) is not None


def _ours(out: Path, entries: Iterable[str]) -> bool:
    names = set(entries)
    if MARKER in names:
        return True
    if "matrix.json" not in names:
        return False
    try:
        with (out / "matrix.json").open("rb") as fh:
            head = fh.read(256)
    except OSError:
        return False
    return _JSON_HEADER in head


def check_target(out: Path, names: list[str]) -> None:
    """BadInput (exit 3) when ``out`` cannot or must not hold the files; nothing is touched."""
    where = Location(str(out))
    if out.exists() and not out.is_dir():
        raise BadInput("output path exists and is not a directory", where)
    absolute = Path(os.path.abspath(out))
    parent = next((p for p in absolute.parents if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise BadInput("no existing directory to create the output in", where)
    # The new set is made beside ``out`` and swapped in: both must be writable.
    for folder in ([absolute] if absolute.is_dir() else []) + [parent]:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise BadInput("directory is not writable", Location(str(folder)))
    if not out.is_dir():
        return
    for name in names:
        target = out / name
        if target.exists() and not target.is_file():
            raise BadInput("in the way: exists and is not a regular file", Location(str(target)))
    try:
        entries = os.listdir(out)
    except OSError as exc:
        raise BadInput(f"cannot list the output directory: {exc.strerror}", where) from None
    foreign = sorted(e for e in entries if not _own(e) and e != MARKER)
    if foreign or (entries and not _ours(out, entries)):
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "") if foreign \
            else "files without the matrix.json or .seoib-matrix marker"
        raise BadInput(f"the output directory holds files seoib matrix did not write ({shown}); "
                       "give a new or empty directory", where)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False when not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code))


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # make the renames durable where the OS allows it
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fill(new: Path, out: Path, files: Mapping[str, bytes]) -> None:
    umask = os.umask(0)
    os.umask(umask)
    for name, data in files.items():
        fd = os.open(new / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    kept = set(files)
    # A design's table belongs to the md set being written: one of a design the
    # rules no longer have is dropped with it, not carried over.
    writing_md = any(_DESIGN_TABLE.fullmatch(n) for n in files)
    if out.is_dir():  # files of other formats stay part of the set
        for name in sorted(os.listdir(out)):
            if not (_own(name) or name == MARKER) or (writing_md and _DESIGN_TABLE.fullmatch(name)):
                continue
            if name not in kept and (out / name).is_file():
                shutil.copy2(out / name, new / name)
                kept.add(name)
    if "matrix.json" not in kept:
        (new / MARKER).write_text("written by seoib matrix; the directory is replaced as a set\n")
    mode = stat.S_IMODE(out.stat().st_mode) if out.is_dir() else 0o777 & ~umask
    os.chmod(new, mode)  # made 0700 while being filled; a plain mkdir gives this
    _fsync_dir(new)


def write_atomically(out: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` into ``out`` as one set (see the module docstring)."""
    check_target(out, list(files))
    out = Path(os.path.abspath(out))
    if out.is_symlink():
        out = out.resolve()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the output directory: {exc.strerror}",
                       Location(str(out))) from None
    new: Path | None = None
    try:
        made = out.parent / f".{out.name}.{run_id()}.tmp"
        os.mkdir(made, 0o700)  # fails rather than reuse a name: it is this run's alone
        new = made
        _fill(new, out, files)
        if not out.exists():
            os.rename(new, out)
            new = None
        elif _exchange(new, out):
            pass  # ``new`` now holds the old set
        else:
            old = out.parent / f".{out.name}.{run_id()}.old.tmp"
            os.rename(out, old)
            try:
                os.rename(new, out)
            except BaseException:
                os.rename(old, out)
                raise
            new = old
    except BaseException as exc:  # an interrupt too: drop the temporaries, keep the old set
        if new is not None:
            shutil.rmtree(new, ignore_errors=True)
        if isinstance(exc, OSError):
            raise BadInput(f"cannot write the output: {exc.strerror or exc}",
                           Location(str(out))) from None
        raise
    if new is not None:
        shutil.rmtree(new, ignore_errors=True)
    _fsync_dir(out.parent)
