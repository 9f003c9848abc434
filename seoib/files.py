"""The one way in for user files: regular files only, capped in bytes, depth and digits.

Every external input (host JSON files, plans, scenarios, rule files, domain XML,
QEMU command-line files) is read through :func:`read_limited`. It opens without
blocking and refuses what is not a regular file (a FIFO, /dev/zero, a directory,
a socket) before reading a byte, and never reads more than the limit plus one.
Each limit has a name and an environment variable that raises it, and every
refusal says which limit was hit and how to raise it, as one BadInput (exit 3)
line naming the file.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from .errors import BadInput, Location
from .record import record

__all__ = [
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_INPUT_BYTES",
    "Limit",
    "check_digits",
    "load_json_file",
    "loads_json",
    "read_limited",
    "replace_file",
]


@record
class Limit:
    """A bound on user input that a user may raise through an environment variable."""

    what: str
    env: str
    default: int
    unit: str
    verb: str = "exceeds"

    def value(self, default: int | None = None) -> int:
        raw = os.environ.get(self.env, "")
        if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 18:
            return int(raw)
        return self.default if default is None else default

    def refusal(self, subject: str, limit: int | None = None) -> str:
        """``subject`` exceeds this limit: which one, its value, and how to raise it."""
        bound = self.value() if limit is None else limit
        return (f"{subject} {self.verb} the {self.what} limit ({bound} {self.unit}; "
                f"raise it with {self.env}=N)")


MAX_INPUT_BYTES = Limit("input size", "SEOIB_MAX_INPUT_BYTES", 16 * 1024 * 1024, "bytes",
                        "is larger than")
MAX_DEPTH = Limit("nesting depth", "SEOIB_MAX_DEPTH", 64, "levels")
# Python refuses int() of more than 4300 digits; nothing we read needs more than a few.
MAX_DIGITS = Limit("number length", "SEOIB_MAX_DIGITS", 20, "digits")

_KIND = {stat.S_IFIFO: "a named pipe", stat.S_IFCHR: "a character device",
         stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


def read_limited(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path``; BadInput (exit 3) naming the file otherwise.

    ``limit`` is the caller's default size bound in bytes; SEOIB_MAX_INPUT_BYTES
    overrides it. The file is opened with O_NONBLOCK, so a FIFO without a writer
    cannot block us, and fstat decides before anything is read.
    """
    where = Location(str(path))
    bound = MAX_INPUT_BYTES.value(limit)
    if "\0" in str(path):  # os.open would raise ValueError, not OSError
        raise BadInput("a file name cannot contain a NUL byte", where)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        dangling = os.path.islink(path)
        raise BadInput("dangling symbolic link" if dangling else "no such file", where) from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO opened for writing only
            raise BadInput("not a regular file (a socket?), expected a file", where) from None
        raise BadInput(f"cannot read: {exc.strerror or exc}", where) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KIND.get(stat.S_IFMT(mode), "not a regular file")
            raise BadInput(f"is {kind}, expected a regular file", where)
        chunks: list[bytes] = []
        size = 0
        while size <= bound:
            chunk = os.read(fd, min(1 << 20, bound + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", where) from None
    finally:
        os.close(fd)
    if size > bound:
        raise BadInput(MAX_INPUT_BYTES.refusal("the file", bound), where)
    return b"".join(chunks)


def check_digits(digits: str, where: Location, what: str = "number") -> None:
    """Refuse a digit string longer than the number-length limit (before int() sees it)."""
    bound = MAX_DIGITS.value()
    if len(digits) > bound:
        raise BadInput(MAX_DIGITS.refusal(f"{what} of {len(digits)} digits"), where)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def _json_depth_check(text: str, where: Location) -> None:
    """Refuse nesting deeper than the limit before json.loads recurses into it."""
    bound = MAX_DEPTH.value()
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            if depth > bound:
                line = text.count("\n", 0, m.start()) + 1
                raise BadInput(MAX_DEPTH.refusal("JSON nesting"),
                               Location(where.source, line))
        else:
            depth -= 1


def loads_json(data: bytes | str, where: Location) -> Any:
    """Parse JSON from a user: UTF-8, bounded depth and digits, no NaN/Infinity."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadInput(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", where) from None
    _json_depth_check(data, where)

    def number(text: str) -> int:
        check_digits(text.lstrip("-"), where)
        return int(text)

    def constant(text: str) -> Any:
        raise BadInput(f"invalid JSON: {text} is not a JSON number", where)

    def real(text: str) -> float:
        check_digits(re.sub(r"[^0-9]", "", text), where)
        return float(text)

    try:
        return json.loads(data, parse_int=number, parse_float=real, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise BadInput(f"invalid JSON: {exc.msg}", Location(where.source, exc.lineno)) from None
    except RecursionError:  # a depth limit raised past what the interpreter allows
        raise BadInput(MAX_DEPTH.refusal("JSON nesting (too deep for this interpreter)"),
                       where) from None


def load_json_file(path: str | Path, limit: int | None = None) -> Any:
    """Read and parse a JSON file through :func:`read_limited` and :func:`loads_json`."""
    return loads_json(read_limited(path, limit), Location(str(path)))


def replace_file(path: str | Path, data: bytes, option: str = "the output") -> None:
    """Replace the file ``path`` whole or not at all: a temporary file beside it, renamed over it.

    BadInput (exit 3) naming ``path`` when it cannot be written; readers never
    see a half-written file, and nothing is left behind on failure.
    """
    import contextlib
    import tempfile  # lazy: a query never writes files

    target, where = Path(path), Location(str(path) or option)
    if not str(path) or target.name in ("", ".", "..") or "\0" in str(path):
        raise BadInput(f"{option} needs a file name", where)
    if target.is_dir():
        raise BadInput(f"{option} names a directory, not a file", where)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise BadInput(f"cannot write: {exc.strerror or exc}", where) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
