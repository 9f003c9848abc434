"""A rule's regular expression, compiled when it is first matched.

The rules cache stores a pattern as its text and flags. Compiling the stored
patterns when the cache is read cost a third of reading it (``re`` parses in
Python), yet most starts match none of them: a distribution scheme is tried only
for a kernel release with a suffix. A :class:`LazyPattern` compiles on its first
``match``/``fullmatch``/``search`` and compares and hashes as the compiled pattern
does, so a rule set read back equals the one compiled.

>>> p = LazyPattern(r"^(?P<series>[0-9]+)-x$", re.ASCII)
>>> p.fullmatch("7-x").group("series"), p == re.compile(r"^(?P<series>[0-9]+)-x$", re.ASCII)
('7', True)
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LazyPattern"]


class LazyPattern:
    """``re.compile(pattern, flags)``, done on first use."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int) -> None:
        self.pattern, self.flags = pattern, flags
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        c = self._compiled
        if c is None:
            c = self._compiled = re.compile(self.pattern, self.flags)
        return c

    def match(self, text: str) -> re.Match[str] | None:
        return self.compiled().match(text)

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self.compiled().fullmatch(text)

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled().search(text)

    @property
    def groupindex(self) -> Any:
        return self.compiled().groupindex

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LazyPattern, re.Pattern)):
            return (self.pattern, self.flags) == (other.pattern, other.flags)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.pattern, self.flags))

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r}, {self.flags})"
