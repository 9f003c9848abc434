"""Dotted release numbers: parse, compare, and print them.

Releases are compared numerically, component by component (1.2.17 < 1.2.100,
1.0 < 1.0.1 < 1.1). Anything after the numeric part (``-200.fc43``, ``+seoib``)
is a build suffix: kept for exact matching; in ordering it only breaks a tie between
equal numbers (1.0.3 < 1.0.3-200.vendor < 1.0.4), so sorting stays total and consistent
with equality.

Only ASCII digits count (Arabic-Indic and full-width digits are not releases) and a
component has at most nine of them, so no int() ever sees an overlong string.
"""

from __future__ import annotations

import re

from ..record import record

__all__ = ["Release", "parse_release"]

# A suffix must not continue the number (no "1.2.3.4", no tenth digit).
_RELEASE = re.compile(r"^([0-9]{1,9})\.([0-9]{1,9})(?:\.([0-9]{1,9}))?(?![.]?[0-9])(.*)$",
                      re.ASCII | re.DOTALL)


@record(order=True)
class Release:
    """A parsed release: numeric parts for ordering, the text as written.

    Releases order by their numeric parts, component by component:

    >>> parse_release("1.2.17") < parse_release("1.2.100")
    True
    >>> parse_release("1.0") < parse_release("1.0.1") < parse_release("1.1")
    True
    >>> parse_release("1.0.3") < parse_release("1.0.3-200.vendor") < parse_release("1.0.4")
    True
    >>> parse_release("1.2.0").series_text, str(parse_release("1.2.0-3.vendor"))
    ('1.2', '1.2.0-3.vendor')
    """

    parts: tuple[int, ...]
    suffix: str = ""
    text: str = ""

    @property
    def series(self) -> tuple[int, int]:
        return (self.parts[0], self.parts[1])

    @property
    def series_text(self) -> str:
        return f"{self.parts[0]}.{self.parts[1]}"

    def __str__(self) -> str:
        return self.text or ".".join(map(str, self.parts)) + self.suffix


def parse_release(text: str) -> Release | None:
    """Parse ``X.Y[.Z][suffix]``; None when it does not look like a release.

    >>> parse_release("1.22.333").parts
    (1, 22, 333)
    >>> parse_release("1.2.0-42.vendor").suffix
    '-42.vendor'
    """
    if not text.isascii():
        return None
    match = _RELEASE.match(text.strip())
    if not match:
        return None
    major, minor, point, suffix = match.groups()
    parts = (int(major), int(minor)) + ((int(point),) if point is not None else ())
    return Release(parts, suffix or "", text.strip())
