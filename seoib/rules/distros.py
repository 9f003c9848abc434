"""Distribution kernel releases: which upstream release a vendor's release string names.

A scheme of ``kernels.yaml``'s ``distributions`` is a regular expression over the
whole release string with one named group: ``upstream`` when the string carries
the upstream release the build was made from (Fedora ``7.0.3-200.fc43.x86_64``,
Proxmox ``6.8.12-4-pve``, a local ``6.18.44-fc-v1300``), or ``series`` when it
names only the series and the stable point lives elsewhere (Debian's ABI name
``6.1.0-28-amd64``, Ubuntu's ``6.8.0-51-generic``, RHEL's ``5.14.0-503...el9_5``).
Schemes are tried in order; the first match decides. The lineage judges the build
as that upstream release (a series-only one as the series' first release), and
the verdict says it was inferred.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import Location
from ..record import record
from .language import KernelChange
from .overlay import item_location
from .versions import Release, parse_release

if TYPE_CHECKING:
    from ..yamlio import LineDict
    from .lazypattern import LazyPattern

__all__ = ["DistributionScheme", "DistroMatch", "load_schemes", "match_release"]

GROUPS = ("upstream", "series")


@record
class DistributionScheme:
    """One vendor's release scheme: its pattern and the citation a verdict gives it."""

    change: KernelChange  # id kernel.distribution.<id>, no capabilities of its own
    pattern: re.Pattern[str] | LazyPattern  # LazyPattern when read from the rules cache
    group: str  # "upstream" or "series"
    examples: tuple[str, ...] = ()


@record
class DistroMatch:
    """A release string read by a scheme: the upstream release it is judged as."""

    scheme: DistributionScheme
    base: Release  # the upstream release (series-only: X.Y)
    series_only: bool


def load_schemes(doc: LineDict, source: str,
                 problems: list[tuple[Location | None, str]]) -> tuple[DistributionScheme, ...]:
    """The ``distributions`` entries, each pattern compiled and checked (problems collected)."""
    out: list[DistributionScheme] = []
    entries = doc.get("distributions", [])
    for i, entry in enumerate(entries):
        loc = item_location(entries, i, source)
        ident = f"kernel.distribution.{entry['id']}"
        try:
            pattern = re.compile(entry["pattern"], re.ASCII)
        except re.error as exc:
            problems.append((loc, f"{ident}: pattern is not a regular expression: {exc}"))
            continue
        groups = [g for g in GROUPS if g in pattern.groupindex]
        if len(groups) != 1:
            problems.append((loc, f"{ident}: pattern needs exactly one group named 'upstream' "
                             f"or 'series' (has {sorted(pattern.groupindex) or 'none'})"))
            continue
        scheme = DistributionScheme(
            KernelChange(ident, (), entry["description"], entry["source"], loc,
                         bool(entry.get("confirmed", True))),
            pattern, groups[0], tuple(entry.get("examples", ())))
        for example in scheme.examples:
            found = match_release((scheme,), example)
            if found is None or found.scheme is not scheme:
                problems.append((loc, f"{ident}: example {example!r} does not match its pattern"))
        out.append(scheme)
    return tuple(out)


def match_release(schemes: tuple[DistributionScheme, ...], text: str) -> DistroMatch | None:
    """The first scheme that reads ``text``, with the upstream release it names; else None.

    >>> s = DistributionScheme(KernelChange("kernel.distribution.x", (), "x", "x", None),
    ...                        re.compile(r"^(?P<series>[0-9]+[.][0-9]+)[.]0-[0-9]+-x$"), "series")
    >>> m = match_release((s,), "1.2.0-7-x")
    >>> str(m.base), m.series_only
    ('1.2', True)
    """
    for scheme in schemes:
        found = scheme.pattern.fullmatch(text)
        if found is None:
            continue
        base = parse_release(found.group(scheme.group) or "")
        if base is None or base.suffix:
            continue
        if scheme.group == "series":
            base = Release(base.series, "", base.series_text)
        return DistroMatch(scheme, base, scheme.group == "series")
    return None
