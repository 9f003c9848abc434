"""Standard output as the CLI writes it: terminal-safe, encodable, and a failed write is one
clean error.

- Control characters other than tab and newline (ESC, BEL, NUL, CSI ``\\x9b`` ...) in text
  output are written as escapes (``\\x1b``): names come from users' plans and specs, and
  an escape sequence must not drive the reader's terminal. JSON needs no scan: ``json``
  escapes them itself.
- Characters the output encoding cannot show (``PYTHONIOENCODING=ascii``, a C locale
  without UTF-8) become ASCII stand-ins (an em dash ``--``, an arrow ``->``) or ``\\u``
  escapes, never a UnicodeEncodeError.
- A write or flush that fails (standard output closed, a reader that stopped reading, a
  full disk) raises OutputError (exit 74), which the CLI reports as one line; standard
  output is then pointed at /dev/null so the interpreter's last flush stays quiet.
- A standard output closed before the start (``seoib ... >&-``) is not an error until
  something is written to it; its descriptor is held by /dev/null meanwhile, so a file
  the command opens never becomes fd 1. A closed standard input (``<&-``) is bad input
  (exit 3) when something reads it (``--batch -``), and its descriptor is held the same way.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import re
from typing import Any, TextIO

from ..errors import OutputError

__all__ = ["Guarded", "add_quiet", "closed_stdin", "guard_stdout", "one_line", "quiet_stdout",
           "silence_stdout"]

_MAX_LINE = 800  # long enough for any real message; an echoed 5,000-digit value is cut

_PIECE = 8192  # io.DEFAULT_BUFFER_SIZE: see Guarded.write
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ASCII = {"\u2014": "--", "\u2013": "-", "\u2192": "->", "\u2190": "<-", "\u2194": "<->",
          "\u2026": "...", "\u00d7": "x", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=",
          "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2022": "*",
          "\u00b7": "*", "\u2212": "-", "\u2713": "ok", "\u2717": "x", "\u00a0": " "}
_HANDLER = "seoib-ascii"


def _stand_in(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    text = err.object[err.start:err.end]
    return "".join(_ASCII.get(c) or c.encode("ascii", "backslashreplace").decode() for c in text), \
        err.end


codecs.register_error(_HANDLER, _stand_in)


def one_line(text: str) -> str:
    """``text`` as one terminal-safe line: control characters escaped, overlong middle cut."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(out) > _MAX_LINE:
        cut = len(out) - _MAX_LINE
        out = f"{out[:_MAX_LINE // 2]}...({cut} characters cut)...{out[-_MAX_LINE // 2:]}"
    return out


def _escape(m: re.Match[str]) -> str:
    return f"\\x{ord(m.group()):02x}"


class _Closed:
    """Standard output that was closed before the start: every write fails as such."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _Discard:
    """``--quiet``: standard output written to nowhere."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _failure(exc: OSError) -> OutputError:
    if exc.errno == errno.EPIPE:
        why = "the reader stopped reading (broken pipe)"
    elif exc.errno == errno.EBADF:
        why = "standard output is closed"
    else:
        why = exc.strerror or str(exc)
    return OutputError(f"cannot write the output: {why}")


class Guarded:
    """A text stream's ``write``/``flush`` with the guarantees of this module."""

    def __init__(self, stream: Any, *, scan: bool = True) -> None:
        self._stream = stream
        self.scan = scan  # escape control characters (text output; JSON escapes its own)

    def write(self, text: str) -> int:
        if self.scan and _CONTROL.search(text):
            text = _CONTROL.sub(_escape, text)
        try:
            if len(text) <= _PIECE:
                return int(self._stream.write(text))
            # A buffered writer handed more than its buffer writes it straight through, and
            # when the reader goes away mid-write it keeps the short count and drops the rest
            # without an error; in pieces that fit its buffer, the next write fails as it should.
            for i in range(0, len(text), _PIECE):
                self._stream.write(text[i:i + _PIECE])
            return len(text)
        except OSError as exc:
            raise _failure(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise _failure(exc) from None

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, buffer ...
        return getattr(self._stream, name)


def _fd_closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def _hold(fd: int) -> None:
    """Put /dev/null on descriptor ``fd`` (closed or failed), so nothing else lands there."""
    null = os.open(os.devnull, os.O_RDWR)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


def guard_stdout(stdout: TextIO | None, *, scan: bool) -> Guarded:
    """The guarded form of ``stdout`` (``sys.stdout``: None when it was closed at start)."""
    if stdout is None:
        if _fd_closed(1):
            _hold(1)
        return Guarded(_Closed(), scan=scan)
    encoding = (getattr(stdout, "encoding", None) or "utf-8").lower().replace("_", "-")
    if encoding not in ("utf-8", "utf8") and hasattr(stdout, "reconfigure"):
        stdout.reconfigure(errors=_HANDLER)
    return Guarded(stdout, scan=scan)


def _std_fd(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def add_quiet(parser: Any) -> None:
    """``-q``/``--quiet`` on a command's parser (seoib.cli adds it to every command)."""
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print nothing on standard output: the exit code is the answer "
                             "(errors still go to stderr)")


class _ClosedIn:
    """Standard input that was closed before the start: reading it is bad input."""

    def _refuse(self, *args: Any) -> Any:
        from ..errors import BadInput, Location

        raise BadInput("standard input is closed (give a file instead of -)", Location("-"))

    buffer = property(_refuse)
    read = readline = readlines = fileno = __iter__ = _refuse

    def isatty(self) -> bool:
        return False


def closed_stdin() -> _ClosedIn:
    """What ``sys.stdin`` becomes when it was closed at the start (``<&-``)."""
    if _fd_closed(0):
        _hold(0)
    return _ClosedIn()


def quiet_stdout(*, scan: bool = False) -> Guarded:
    """``--quiet``: nothing reaches standard output; the exit code is the answer."""
    return Guarded(_Discard(), scan=scan)


def silence_stdout(stream: Any) -> None:
    """After an OutputError: the descriptor behind ``stream`` goes to /dev/null, so the
    interpreter's final flush of what is still buffered fails no more."""
    inner = getattr(stream, "_stream", stream)
    fd = _std_fd(inner)
    if fd is not None and fd in (1, 2):
        with contextlib.suppress(OSError):
            _hold(fd)
