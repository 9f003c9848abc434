"""Many host or VM entries named in a few words: counts, the first few names, ranges.

A fleet written host by host has thousands of entries that a finding concerns
alike. Text, JUnit and SARIF name them compactly; only the JSON report lists
every name, once per distinct set (``host_sets`` / ``vm_sets``). Names that
differ only in a trailing number and follow each other (``h0``, ``h1``, ...,
``h99``) read as one range, ``h0 … h99``.

>>> compact(["h0", "h1", "h2", "h3", "h9"])
'h0 … h3, h9'
>>> compact([f"h{i}" for i in range(0, 300, 3)])
'h0, h3, h6 and 97 more'
>>> counted("rack-a", 1, 40)
'rack-a (40 hosts)'
>>> counted(compact([f"h{i}" for i in range(5000)]), 5000, 5000)
'h0 … h4999 (5,000 hosts)'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["LISTED", "compact", "counted"]

_TAIL = re.compile(r"^(.*?)(\d+)$")
SHOWN = 3  # names or ranges a compact text shows before "and N more"
LISTED = 8  # entries a JSON finding lists inline (all of them are in its set)


def _split(name: str) -> tuple[str, int, int] | None:
    """A name as (prefix, number, width of a zero-padded number or 0), when it ends in one."""
    m = _TAIL.match(name)
    if m is None:
        return None
    digits = m[2]
    return m[1], int(digits), len(digits) if digits[0] == "0" and len(digits) > 1 else 0


def _follows(a: tuple[str, int, int] | None, b: tuple[str, int, int] | None) -> bool:
    if a is None or b is None or a[0] != b[0] or b[1] != a[1] + 1:
        return False
    return a[2] == b[2] or (a[2] == 0 and b[2] == 0)


def _ranges(names: Sequence[str], stop: int) -> tuple[list[str], int]:
    """Runs of consecutive numbered names as text, ``stop`` at most; and the names covered."""
    out: list[str] = []
    i = 0
    while i < len(names) and len(out) < stop:
        j, cur = i, _split(names[i])
        while j + 1 < len(names):
            nxt = _split(names[j + 1])
            if not _follows(cur, nxt):
                break
            j, cur = j + 1, nxt
        if j - i >= 2:
            out.append(f"{names[i]} … {names[j]}")
            i = j + 1
        else:
            out.append(names[i])
            i += 1
    return out, i


_MEMO: dict[int, tuple[Sequence[str], int, str]] = {}


def compact(names: Sequence[str], shown: int = SHOWN) -> str:
    """Names for a person: ranges where they count up, the first few, then how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    hit = _MEMO.get(id(names))
    if hit is not None and hit[0] is names and hit[1] == shown:
        return hit[2]
    parts, covered = _ranges(names, shown)
    rest = len(names) - covered
    text = ", ".join(parts) + (f" and {rest:,} more" if rest else "")
    if len(_MEMO) > 4096:
        _MEMO.clear()
    _MEMO[id(names)] = (names, shown, text)  # the value keeps ``names`` alive: its id stays its
    return text


def counted(text: str, entries: int, hosts: int) -> str:
    """``text`` naming ``entries`` host entries, with the hosts they hold when not one each."""
    if entries == 1 and hosts == 1:
        return text
    return f"{text} ({hosts:,} hosts)"
