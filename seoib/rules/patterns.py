"""Rule-file regular expressions that cannot backtrack catastrophically.

A downstream machine-type scheme (``machines.yaml``, ``downstream: [{pattern: ...}]``)
is a regular expression from a site's rule overlay, matched against every machine type
name a query names. Python's ``re`` backtracks: ``(a+)+$`` or ``(a|a)*b`` takes time
exponential in the name's length, and ``a*a*a*b`` polynomial time. So a pattern is
accepted only when it is *deterministic*: at every choice the matcher meets (repeat once
more or stop, take an optional part or skip it, which branch of an alternation) the next
character decides, because the character sets that can start each choice are disjoint.
Such a pattern is never backtracked into by more than one step per choice, so matching
takes time linear in the name. The check walks ``re``'s own parse of the pattern:

- a repeat with a choice (``*``, ``+``, ``?``, ``{m,n}``) must not match the empty
  string, and the first characters of its body must be disjoint from what can follow it;
- the body of an unbounded repeat holds no repeat or alternation of its own (star height
  one);
- the branches of an alternation start with disjoint characters, and at most one is
  empty (its followers count as its first characters);
- no backreferences, lookarounds, conditionals, atomic groups or possessive repeats.

Patterns are compiled with ``re.ASCII`` (machine type names are ASCII), so ``\\d`` is
``[0-9]``. The scheme every downstream vendor uses - ``^(?P<upstream>pc-(?:i440fx|q35)-
[0-9]+\\.[0-9]+(?:\\.[0-9]+)?)\\+pve[0-9]+$`` - passes; ``(a+)+$`` does not, with a message
that says which part is ambiguous. google-re2 would match in linear time whatever the
pattern, but it costs 20 ms to import on every query and writes its own log lines to
stderr; a scheme of machine-type names needs no more than this subset.

>>> compile_name_pattern(r"^(?P<upstream>pc-q35-[0-9]+\\.[0-9]+)\\+acme[0-9]+$").pattern
'^(?P<upstream>pc-q35-[0-9]+\\\\.[0-9]+)\\\\+acme[0-9]+$'
>>> compile_name_pattern(r"^(a+)+$")
Traceback (most recent call last):
...
ValueError: a repeated part holds a repeat of its own ('(a+)+' can match one name in exponentially many ways)
"""

from __future__ import annotations

import re
from typing import Any

try:  # Python 3.11+
    from re import _constants as _c
    from re import _parser as _sre
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]

__all__ = ["MAX_PATTERN", "compile_name_pattern"]

MAX_PATTERN = 512  # characters: a naming scheme is one line
_UNICODE = 0x110000

Ranges = tuple[tuple[int, int], ...]  # sorted, disjoint, inclusive code point ranges


def _norm(ranges: list[tuple[int, int]]) -> Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _union(a: Ranges, b: Ranges) -> Ranges:
    return _norm([*a, *b])


def _complement(a: Ranges) -> Ranges:
    out, start = [], 0
    for lo, hi in a:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start < _UNICODE:
        out.append((start, _UNICODE - 1))
    return tuple(out)


def _overlap(a: Ranges, b: Ranges) -> bool:
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][1] < b[j][0]:
            i += 1
        elif b[j][1] < a[i][0]:
            j += 1
        else:
            return True
    return False


_DIGIT = ((48, 57),)
_WORD = ((48, 57), (65, 90), (95, 95), (97, 122))
_SPACE = ((9, 13), (32, 32))
_CATEGORY = {
    _c.CATEGORY_DIGIT: _DIGIT, _c.CATEGORY_NOT_DIGIT: _complement(_DIGIT),
    _c.CATEGORY_WORD: _WORD, _c.CATEGORY_NOT_WORD: _complement(_WORD),
    _c.CATEGORY_SPACE: _SPACE, _c.CATEGORY_NOT_SPACE: _complement(_SPACE),
}
_ANY = ((0, _UNICODE - 1),)
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT}


class _Refused(ValueError):
    pass


def _charset(items: list[tuple[Any, Any]]) -> Ranges:
    ranges: list[tuple[int, int]] = []
    negate = False
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            ranges.append((av, av))
        elif op is _c.RANGE:
            ranges.append(av)
        elif op is _c.CATEGORY:
            ranges.extend(_CATEGORY.get(av, _ANY))
        else:
            raise _Refused(f"a character class item {op} is not supported")
    out = _norm(ranges)
    return _complement(out) if negate else out


class _Info:
    """What the check needs of a part: can it match empty, which characters can start it."""

    __slots__ = ("first", "nullable", "repeats")

    def __init__(self, first: Ranges, nullable: bool, repeats: bool) -> None:
        self.first, self.nullable, self.repeats = first, nullable, repeats


def _seq(items: list[Any], follow: Ranges, source: str) -> _Info:
    """Check a sequence right to left, each part against what can follow it."""
    first: Ranges = ()
    nullable, repeats = True, False
    after = follow
    infos: list[_Info] = []
    for op, av in reversed(items):
        info = _part(op, av, after, source)
        infos.append(info)
        repeats = repeats or info.repeats
        after = _union(info.first, after) if info.nullable else info.first
    for info in reversed(infos):
        first = _union(first, info.first)
        if not info.nullable:
            nullable = False
            break
    return _Info(first, nullable, repeats)


def _shown(items: Any) -> str:
    """A readable rendering of a parsed part, for messages."""
    out = []
    for op, av in items:
        if op is _c.LITERAL:
            out.append(re.escape(chr(av)))
        elif op is _c.IN:
            out.append("[...]")
        elif op is _c.ANY:
            out.append(".")
        elif op is _c.SUBPATTERN:
            out.append(f"({_shown(av[-1])})")
        elif op is _c.BRANCH:
            out.append("|".join(_shown(b) for b in av[1]))
        elif op in _REPEATS:
            lo, hi, body = av
            mark = {(0, _c.MAXREPEAT): "*", (1, _c.MAXREPEAT): "+", (0, 1): "?"}.get(
                (lo, hi), f"{{{lo},{'' if hi is _c.MAXREPEAT else hi}}}")
            out.append(_shown(body) + mark)
        elif op is _c.AT:
            out.append({_c.AT_BEGINNING: "^", _c.AT_END: "$"}.get(av, ""))
        else:
            out.append("?")
    return "".join(out)


def _part(op: Any, av: Any, follow: Ranges, source: str) -> _Info:
    if op is _c.LITERAL:
        return _Info(((av, av),), False, False)
    if op is _c.NOT_LITERAL:
        return _Info(_complement(((av, av),)), False, False)
    if op is _c.IN:
        return _Info(_charset(av), False, False)
    if op is _c.ANY:
        return _Info(_ANY, False, False)
    if op is _c.AT:
        return _Info((), True, False)
    if op is _c.SUBPATTERN:
        return _seq(list(av[-1]), follow, source)
    if op is _c.BRANCH:
        return _branch(av[1], follow, source)
    if op in _REPEATS:
        return _repeat(av, follow, source)
    raise _Refused(f"{str(op).lower().replace('_', ' ')} is not supported in a name pattern "
                   "(plain characters, classes, groups, alternation and repeats are)")


def _branch(branches: list[Any], follow: Ranges, source: str) -> _Info:
    infos = [_seq(list(b), follow, source) for b in branches]
    starts = [_union(i.first, follow) if i.nullable else i.first for i in infos]
    for a in range(len(infos)):
        for b in range(a + 1, len(infos)):
            if _overlap(starts[a], starts[b]):
                shown = " and ".join(repr(_shown(x)) for x in (branches[a], branches[b]))
                raise _Refused(f"two branches of an alternation ({shown}) can start with the "
                               "same character, or both match nothing: which one applies is "
                               "ambiguous (write their common start once, before the alternation)")
    first: Ranges = ()
    for info in infos:
        first = _union(first, info.first)
    return _Info(first, any(i.nullable for i in infos), any(i.repeats for i in infos))


def _repeat(av: Any, follow: Ranges, source: str) -> _Info:
    lo, hi, body = av
    shown = _shown([(_c.MAX_REPEAT, av)])
    if lo == hi:  # no choice: the body, lo times
        inner = _seq(list(body), _union(follow, _seq(list(body), follow, source).first), source)
        return _Info(inner.first, inner.nullable or lo == 0, inner.repeats)
    unbounded = hi is _c.MAXREPEAT or hi > 1
    nested = [op for op, _ in _flat(body) if op in _REPEATS or op is _c.BRANCH]
    if unbounded and nested:
        what = "an alternation" if nested[0] is _c.BRANCH else "a repeat"
        raise _Refused(f"a repeated part holds {what} of its own ({shown!r} can match one name "
                       "in exponentially many ways)")
    # Inside, the body is followed by another pass of itself or by what follows the repeat.
    probe = _seq(list(body), follow, source)
    inner = _seq(list(body), _union(probe.first, follow), source)
    if inner.nullable:
        raise _Refused(f"{shown!r} repeats a part that can match nothing")
    if _overlap(inner.first, follow):
        raise _Refused(f"{shown!r} is followed by a part that can start with the same character: "
                       "where it stops is ambiguous (make what follows start differently)")
    return _Info(inner.first, lo == 0, True)


def _flat(items: Any) -> list[tuple[Any, Any]]:
    """Every part inside ``items``, through groups (not into repeats: they count apart)."""
    out = []
    for op, av in items:
        out.append((op, av))
        if op is _c.SUBPATTERN:
            out += _flat(av[-1])
    return out


def compile_name_pattern(text: str) -> re.Pattern[str]:
    """``text`` compiled (``re.ASCII``) when it matches in linear time; ValueError saying why not.

    The message of a refusal names the ambiguous part; a syntax error (``re.error``) is
    a ValueError here too.
    """
    if len(text) > MAX_PATTERN:
        raise ValueError(f"a pattern of {len(text)} characters (at most {MAX_PATTERN})")
    import warnings

    try:
        with warnings.catch_warnings():
            # re warns of syntax whose meaning will change ("possible nested set"): a
            # warning line on stderr is no refusal, and such a pattern is no naming scheme.
            warnings.simplefilter("error", FutureWarning)
            compiled = re.compile(text, re.ASCII)
    except re.error as exc:  # not a ValueError
        raise ValueError(f"not a regular expression: {exc}") from None
    except FutureWarning as exc:
        raise ValueError(f"ambiguous syntax: {exc}") from None
    except RecursionError:
        raise ValueError("the pattern nests too deeply") from None
    if compiled.flags & (re.IGNORECASE | re.LOCALE):
        raise ValueError("case-insensitive matching is not supported in a name pattern "
                         "(list both cases: [Pp]c)")
    try:
        parsed = _sre.parse(text, re.ASCII)
        _seq(list(parsed), (), text)
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("the pattern nests too deeply") from None
    return compiled
