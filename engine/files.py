"""Reading user files with one size limit and one set of error messages."""

from __future__ import annotations

from pathlib import Path

from .errors import BadInput, Location

__all__ = ["read_limited"]


def read_limited(path: str | Path, limit: int) -> bytes:
    """The bytes of ``path``; BadInput (exit 3) naming the file when unreadable or too big."""
    where = Location(str(path))
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(limit + 1)
    except IsADirectoryError:
        raise BadInput("is a directory, expected a file", where) from None
    except FileNotFoundError:
        raise BadInput("no such file", where) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", where) from None
    if len(data) > limit:
        raise BadInput(f"file is larger than {limit} bytes", where)
    return data
