"""Rule overlays: a site's rule directory merged over the rule set before it.

The built-in rules are the base. Each further directory (``SEOIB_RULES``, then
every ``--rules DIR`` in order) either holds a complete rule set, which becomes
the new base, or some data files, which are merged into the set so far:

* a list of entries with ``id`` (kernel builds, QEMU releases and builds,
  machine families, downstream schemes, designs, guests, compat rules): an entry
  with a known id replaces it, a new id is appended;
* in assumptions.yaml, an entry with a known id updates that switch's fields
  (an overlay sets a switch's ``value`` and keeps its default and source);
* a list of plain values (``mainline``, ``versions``): new values are appended;
* anything else at the top level of a file replaces the value before it.

Stage files (rules) and the vocabulary files (facts, queries) replace the file of
the same name as a whole. Every merged list item remembers the file it came from,
so an error points at the overlay's own ``file:line``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import Location

if TYPE_CHECKING:  # at run time imported where used: a cached rule set never loads yaml
    from ..yamlio import LineDict, LineList

__all__ = ["item_location", "merge_document", "sourced"]


def item_location(seq: Any, index: int, default: str) -> Location:
    """``file:line`` of item ``index`` of a (possibly merged) list."""
    from ..yamlio import LineList

    sources = getattr(seq, "item_sources", None)
    source = sources[index] if sources is not None and index < len(sources) else default
    line = seq.line_of(index) if isinstance(seq, LineList) else None
    return Location(source or default, line)


def sourced(seq: LineList, source: str) -> LineList:
    """A copy of ``seq`` whose items all come from ``source`` (unless they already say)."""
    from ..yamlio import LineList

    out = LineList(seq)
    out.line = seq.line
    out.item_lines = list(seq.item_lines)
    old = getattr(seq, "item_sources", None)
    out.item_sources = list(old) if old is not None else [source] * len(seq)  # type: ignore[attr-defined]
    return out


def _key(item: Any) -> Any:
    if isinstance(item, dict):
        return ("id", item["id"]) if "id" in item else ("version", item.get("version"))
    return ("value", item)


def _merge_list(base: LineList, top: LineList, base_src: str, top_src: str,
                fields: bool = False) -> LineList:
    out = sourced(base, base_src)
    index = {_key(item): i for i, item in enumerate(out)}
    for i, item in enumerate(top):
        k = _key(item)
        line = top.line_of(i)
        if k in index and isinstance(item, dict):
            j = index[k]
            out[j] = _updated(out[j], item) if fields else item
            out.item_lines[j] = line
            out.item_sources[j] = top_src  # type: ignore[attr-defined]
        elif k not in index:
            index[k] = len(out)
            out.append(item)
            out.item_lines.append(line)
            out.item_sources.append(top_src)  # type: ignore[attr-defined]
    return out


def _updated(old: Any, top: LineDict) -> Any:
    """``old``'s fields with ``top``'s over them; lines follow the top entry."""
    from ..yamlio import LineDict

    if not isinstance(old, dict):
        return top
    out = LineDict({**old, **top})
    out.line = top.line
    out.key_lines = {**getattr(old, "key_lines", {}), **top.key_lines}
    return out


def merge_document(base: LineDict, top: LineDict, base_src: str, top_src: str,
                   fields: bool = False) -> LineDict:
    """``top`` merged over ``base`` (neither is changed); ``fields``: entries with a known
    id update it field by field instead of replacing it."""
    from ..yamlio import LineDict, LineList

    out = LineDict(base)
    out.line = base.line
    out.key_lines = dict(base.key_lines)
    for key, value in top.items():
        old = base.get(key)
        if isinstance(old, LineList) and isinstance(value, LineList):
            out[key] = _merge_list(old, value, base_src, top_src, fields)
        elif isinstance(value, LineList):
            out[key] = sourced(value, top_src)
        else:
            out[key] = value
        out.key_lines[key] = top.line_of(key)
    return out


def merge_sources(pieces: Sequence[tuple[LineDict, str]], fields: bool = False) -> LineDict:
    """Fold ``(document, file)`` pairs, first the base, into one document."""
    doc, src = pieces[0]
    for top, top_src in pieces[1:]:
        doc = merge_document(doc, top, src, top_src, fields)
        src = top_src
    return doc
