"""A downstream pattern the check accepts is matched in linear time: held on a model.

The model is a backtracking matcher over ``re``'s own parse, built the way ``re``'s
engine explores (greedy repeats try once more first, branches in order), that counts its
steps. On random patterns over a small alphabet it must agree with ``re`` on every
name (so it is a faithful model), and on every pattern the check accepts its steps
stay within a constant times (name length + 1) times the pattern's size. The
textbook catastrophic patterns, which the check refuses, blow the same bound on names
of a few dozen characters: the bound is one the model can fail.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.rules import patterns
from seoib.rules.patterns import compile_name_pattern

_c, _sre = patterns._c, patterns._sre
STEP_FACTOR = 8


class Blowup(Exception):
    pass


def _size(items: Any) -> int:
    total = 0
    for op, av in items:
        total += 1
        if op is _c.SUBPATTERN:
            total += _size(av[-1])
        elif op is _c.BRANCH:
            total += sum(_size(b) for b in av[1])
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            total += _size(av[2])
    return total


def model_match(pattern: str, name: str, limit: int) -> tuple[bool, int]:
    """(whether the pattern matches at the start of ``name``, steps taken); Blowup past limit."""
    steps = [0]
    n = len(name)

    def seq(items: list[Any], i: int, pos: int, k: Callable[[int], bool]) -> bool:
        steps[0] += 1
        if steps[0] > limit:
            raise Blowup
        if i == len(items):
            return k(pos)
        op, av = items[i]

        def rest(p: int) -> bool:
            return seq(items, i + 1, p, k)

        if op is _c.LITERAL:
            return pos < n and ord(name[pos]) == av and rest(pos + 1)
        if op is _c.NOT_LITERAL:
            return pos < n and ord(name[pos]) != av and rest(pos + 1)
        if op is _c.IN:
            c = ord(name[pos]) if pos < n else -1
            return c >= 0 and any(lo <= c <= hi for lo, hi in patterns._charset(av)) and rest(pos + 1)
        if op is _c.ANY:
            return pos < n and name[pos] != "\n" and rest(pos + 1)
        if op is _c.AT:
            at = {_c.AT_BEGINNING: pos == 0, _c.AT_BEGINNING_STRING: pos == 0,
                  _c.AT_END: pos == n or (pos == n - 1 and name[pos] == "\n"),
                  _c.AT_END_STRING: pos == n}
            return at[av] and rest(pos)
        if op is _c.SUBPATTERN:
            return seq(list(av[-1]), 0, pos, rest)
        if op is _c.BRANCH:
            return any(seq(list(b), 0, pos, rest) for b in av[1])
        lo, hi, body = av
        body = list(body)
        greedy = op is _c.MAX_REPEAT

        def rep(count: int, p: int) -> bool:
            def again() -> bool:
                # one more pass; past the minimum it must consume something (sre's
                # MAX_UNTIL stops a pass that ends where the last one did, below it does not)
                return count < hi and seq(body, 0, p,
                                          lambda q: (q != p or count < lo) and rep(count + 1, q))

            def stop() -> bool:
                return count >= lo and rest(p)

            return (again() or stop()) if greedy else (stop() or again())

        return rep(0, pos)

    items = list(_sre.parse(pattern, re.ASCII))
    return seq(items, 0, 0, lambda p: True), steps[0]


_ATOMS = st.sampled_from(["a", "b", "-", r"\.", "[ab]", "[a-]", "[^a]", ".", r"\d", "[0-9]"])


def _patterns() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        quant = st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,3}", "*?"])
        group = st.tuples(inner, quant).map(lambda t: f"(?:{t[0]}){t[1]}")
        alt = st.tuples(inner, inner).map(lambda t: f"(?:{t[0]}|{t[1]})")
        seq = st.lists(inner, min_size=2, max_size=3).map("".join)
        repeated = st.tuples(_ATOMS, quant).map("".join)
        return group | alt | seq | repeated
    body = st.recursive(_ATOMS, extend, max_leaves=6)
    return st.tuples(st.sampled_from(["^", ""]), body, st.sampled_from(["$", "", "x$"])).map(
        lambda t: f"{t[0]}(?P<upstream>{t[1]}){t[2]}")


_NAMES = st.text(alphabet="ab-.0x", max_size=30)


@pytest.fixture(autouse=True)
def _deep_enough() -> Any:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20_000))
    yield
    sys.setrecursionlimit(old)


@settings(max_examples=300, deadline=None)
@given(_patterns(), st.lists(_NAMES, min_size=1, max_size=4))
def test_the_model_agrees_with_re(pattern: str, names: list[str]) -> None:
    compiled = re.compile(pattern, re.ASCII)
    for name in names:
        try:
            matched, _ = model_match(pattern, name, 200_000)
        except Blowup:
            continue  # a catastrophic pattern: re would take as long
        assert matched == (compiled.match(name) is not None), (pattern, name)


@settings(max_examples=400, deadline=None)
@given(_patterns(), st.lists(_NAMES, min_size=1, max_size=4), st.sampled_from("ab-.0"))
def test_an_accepted_pattern_matches_in_linear_steps(pattern: str, names: list[str],
                                                     fill: str) -> None:
    try:
        compile_name_pattern(pattern)
    except ValueError:
        return  # refused: never matched
    size = _size(_sre.parse(pattern, re.ASCII))
    for name in [*names, fill * 60, fill * 60 + "!", "a-" * 30 + "x"]:
        bound = STEP_FACTOR * (len(name) + 1) * size
        matched, _ = model_match(pattern, name, bound)  # Blowup fails the test
        assert matched == (re.match(pattern, name, re.ASCII) is not None)


FIXED_ACCEPTED = [
    r"^(?P<upstream>pc-(?:i440fx|q35)-[0-9]+\.[0-9]+(?:\.[0-9]+)?)\+pve[0-9]+$",
    r"^(?P<upstream>pc-q35-[0-9]+\.[0-9]+)-rhel[0-9]+\.[0-9]+\.[0-9]+$",
    r"^(?P<upstream>[a-z0-9.-]+)\+x$",
]


@pytest.mark.parametrize("pattern", FIXED_ACCEPTED)
def test_the_shipped_kind_of_scheme_is_accepted_and_linear(pattern: str) -> None:
    compile_name_pattern(pattern)
    size = _size(_sre.parse(pattern, re.ASCII))
    for name in ("pc-q35-" + "1" * 200 + "+pve", "pc-q35-10.1+pve" + "0" * 200, "a" * 200):
        model_match(pattern, name, STEP_FACTOR * (len(name) + 1) * size)


@pytest.mark.parametrize("pattern", [r"^(?P<upstream>(a+)+)b$", r"^(?P<upstream>(a|a)*)b$",
                                     r"^(?P<upstream>a*a*a*a*)b$"])
def test_a_catastrophic_pattern_breaks_the_bound_and_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        compile_name_pattern(pattern)
    name = "a" * 40
    size = _size(_sre.parse(pattern, re.ASCII))
    with pytest.raises(Blowup):
        model_match(pattern, name, STEP_FACTOR * (len(name) + 1) * size)


@pytest.mark.parametrize(("pattern", "name"), [
    ("^(?P<upstream>(?:(?:a)*)+)$", ""),   # the minimum pass may be empty, as in re
    ("^(?P<upstream>(?:a?){2})$", "a"),
    ("^(?P<upstream>(?:b*)+a)$", "a"),
])
def test_the_model_agrees_with_re_on_empty_passes(pattern: str, name: str) -> None:
    assert model_match(pattern, name, 10_000)[0] == (re.compile(pattern, re.ASCII).match(name) is not None)
