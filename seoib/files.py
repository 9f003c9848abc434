"""The one way in for user files: regular files only, capped in bytes, depth and digits.

Every external input (host JSON files, plans, scenarios, rule files, domain XML,
QEMU command-line files) is read through :func:`read_limited`. It opens without
blocking and refuses what is not a regular file (a FIFO, /dev/zero, a directory,
a socket) before reading a byte, and never reads more than the limit plus one.
Each limit has a name and an environment variable that raises it, and every
refusal says which limit was hit and how to raise it, as one BadInput (exit 3)
line naming the file.

JSON from users goes through :func:`loads_json` only: it refuses what ``json``
lets through silently (a key given twice, NaN, numbers longer than the digit
limit, nesting deeper than the depth limit). Outputs go through
:func:`replace_file`: whole or not at all, with the mode a plain write would give.
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
    "check_output_file",
    "check_path",
    "load_json_file",
    "loads_json",
    "read_limited",
    "replace_file",
    "run_id",
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
    check_path(path)
    where = Location(str(path))
    bound = MAX_INPUT_BYTES.value(limit)
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


def check_path(path: str | Path, option: str | None = None) -> None:
    """Refuse an empty path or one holding a NUL byte (BadInput naming ``option``, if known).

    ``Path("")`` is ``.``: an empty ``--rules ''`` or ``--out ''`` would quietly mean
    the current directory, never what was meant.
    """
    text = os.fspath(path)
    where = Location(option) if option else None
    if not text:
        raise BadInput("empty path (give a file or directory name)", where)
    if "\0" in text:  # os.open would raise ValueError, not OSError
        raise BadInput("a file name cannot contain a NUL byte", where or Location(repr(text)))


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
    if text.count("[") + text.count("{") <= bound:  # cannot be deeper: skip the slow scan
        return
    depth = 0
    bare = _STRING.sub('""', text)  # offsets below are in this text; strings hold no newline
    for m in _BRACKET.finditer(bare):
        if m.group() in "[{":
            depth += 1
            if depth > bound:
                line = bare.count("\n", 0, m.start()) + (where.line or 1)
                raise BadInput(MAX_DEPTH.refusal("JSON nesting"),
                               Location(where.source, line))
        else:
            depth -= 1


class _Refused(ValueError):
    """Raised inside the JSON decoder's hooks; loads_json adds the location."""


def _number(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > MAX_DIGITS.value():
        raise _Refused(MAX_DIGITS.refusal(f"number of {len(digits)} digits"))
    return int(text)


def _real(text: str) -> float:
    digits = sum(c.isdigit() for c in text)
    if digits > MAX_DIGITS.value():
        raise _Refused(MAX_DIGITS.refusal(f"number of {digits} digits"))
    return float(text)


def _constant(text: str) -> Any:
    raise _Refused(f"invalid JSON: {text} is not a JSON number")


class _DuplicateKey(_Refused):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} is given twice in one object (JSON readers disagree on "
                         "which one counts: give it once)")
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


# One decoder for every call: building one per call costs more than decoding a batch line.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique, parse_int=_number, parse_float=_real,
                            parse_constant=_constant)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]', re.S)


def _duplicate_line(text: str, key: str) -> int | None:
    """The line of the second ``key`` in one object (only a refusal pays for this scan)."""
    stack: list[set[str] | None] = []  # per open bracket: an object's keys, or None for a list
    pending: tuple[str, int] | None = None
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok in "{[":
            stack.append(set() if tok == "{" else None)
        elif tok in "}]":
            if stack:
                stack.pop()
        elif tok == ":" and pending is not None and stack and stack[-1] is not None:
            name, pos = pending
            if name in stack[-1] and name == key:
                return text.count("\n", 0, pos) + 1
            stack[-1].add(name)
        if tok.startswith('"'):
            try:
                pending = (json.loads(tok), m.start())
            except ValueError:
                pending = None
        elif tok != ":":
            pending = None
    return None


def loads_json(data: bytes | str, where: Location) -> Any:
    """Parse JSON from a user: UTF-8, bounded depth and digits, no NaN/Infinity, no key twice.

    >>> loads_json('{"name": "h1"}', Location("host.json"))
    {'name': 'h1'}
    >>> loads_json('{"name": "h1",\\n "name": "h2"}', Location("host.json"))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    seoib.errors.BadInput: host.json:2: key 'name' is given twice in one object (...)
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BadInput(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", where) from None
    _json_depth_check(data, where)
    base = (where.line or 1) - 1  # text that starts on a later line of its file (a batch line)
    try:
        return _DECODER.decode(data)
    except _DuplicateKey as exc:
        line = _duplicate_line(data, exc.key)
        raise BadInput(str(exc), Location(where.source, base + line if line else where.line)) \
            from None
    except _Refused as exc:
        raise BadInput(str(exc), where) from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"invalid JSON: {exc.msg}", Location(where.source, base + exc.lineno)) \
            from None
    except RecursionError:  # a depth limit raised past what the interpreter allows
        raise BadInput(MAX_DEPTH.refusal("JSON nesting (too deep for this interpreter)"),
                       where) from None


def load_json_file(path: str | Path, limit: int | None = None) -> Any:
    """Read and parse a JSON file through :func:`read_limited` and :func:`loads_json`."""
    return loads_json(read_limited(path, limit), Location(str(path)))


_RUN_ID: list[str] = []


def run_id() -> str:
    """This process's run id, ``<pid>-<8 hex digits>``: what its temporary names carry.

    A run removes only temporaries with its own id; another run's (even an
    interrupted one's) are never touched, nor anything else beside the output.
    """
    if not _RUN_ID:
        _RUN_ID.append(f"{os.getpid()}-{os.urandom(4).hex()}")
    return _RUN_ID[0]


def check_output_file(path: str | Path, option: str = "the output"
                      ) -> tuple[Path, os.stat_result | None]:
    """The file :func:`replace_file` would replace (symbolic links followed) and its stat
    (None when new); BadInput when it must not be. Commands call it before their work."""
    check_path(path, option)
    where = Location(str(path))
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise BadInput(f"{option} needs a file name", where)
    try:
        target = Path(os.path.realpath(target)) if target.is_symlink() else target
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise BadInput(f"cannot write: {exc.strerror or exc}", where) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise BadInput(f"{option} names a directory, not a file", where)
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = _KIND.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise BadInput(f"is {kind}; {option} replaces only regular files", where)
    if not os.path.isdir(target.parent or "."):
        raise BadInput("no such directory to write the file in", where)
    return target, st


def replace_file(path: str | Path, data: bytes, option: str = "the output") -> None:
    """Replace the file ``path`` whole or not at all: a temporary file beside it, renamed over it.

    BadInput (exit 3) naming ``path`` when it cannot or must not be written: an
    empty name, a directory, or anything that exists and is not a regular file (a
    named pipe or a device is never replaced by a regular file). A symbolic link is
    followed: the file it names is replaced, the link stays. A new file gets the mode
    a plain write gives (0666 less the umask); a replaced one keeps its own. The
    temporary is ``.<name>.<run id>.tmp``; readers never see a half-written file, and
    nothing but that temporary is removed on failure.
    """
    target, st = check_output_file(path, option)
    where = Location(str(path))
    tmp = target.parent / f".{target.name}.{run_id()}.tmp"
    created = False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0), 0o666)  # the umask applies, as for any write
        created = True
        with os.fdopen(fd, "wb") as fh:
            if st is not None:
                os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode))
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        created = False
    except OSError as exc:
        raise BadInput(f"cannot write: {exc.strerror or exc}", where) from None
    finally:
        if created:
            import contextlib

            with contextlib.suppress(OSError):
                os.unlink(tmp)
