"""A mapping whose values are built on first use: the parts of a rule set a command may not need.

A compiled rule set holds one compiled query per question (policy, migrate,
snapshot); a ``seoib policy`` start needs one of them. The rules cache stores the
values of a :class:`Deferred` as separate parts and decodes each when it is first
looked up, so a start pays for what it asks. A part that cannot be decoded (a
cache file damaged after it was read) is not an answer: the mapping then takes all
its values from ``rebuild`` (the rule set compiled afresh), never half of each.

>>> d = Deferred({"a": 1}, {"b": lambda: 2})
>>> list(d), d["b"], len(d), "c" in d
(['a', 'b'], 2, 2, False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

__all__ = ["Deferred", "PartError"]

V = TypeVar("V")


class PartError(Exception):
    """A deferred value could not be built from what was stored."""


class Deferred(Mapping[str, V], Generic[V]):
    """``values`` given now, ``thunks`` called once each on first lookup, in one key order."""

    __slots__ = ("_order", "_thunks", "_values", "rebuild")

    def __init__(self, values: Mapping[str, V] | None = None,
                 thunks: Mapping[str, Callable[[], V]] | None = None) -> None:
        self._values: dict[str, V] = dict(values or {})
        self._thunks: dict[str, Callable[[], V]] = dict(thunks or {})
        self._order = (*self._values, *(k for k in self._thunks if k not in self._values))
        # Where every value comes from when a part cannot be built (set by whoever loads it).
        self.rebuild: Callable[[], Mapping[str, V]] | None = None

    def __getitem__(self, key: str) -> V:
        try:
            return self._values[key]
        except KeyError:
            thunk = self._thunks.get(key)
            if thunk is None:
                raise
        try:
            value = thunk()
        except PartError:
            if self.rebuild is None:
                raise
            self._values, self._thunks = dict(self.rebuild()), {}
            return self._values[key]
        self._values[key] = value
        self._thunks.pop(key, None)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, key: object) -> bool:
        return key in self._values or key in self._thunks

    def __repr__(self) -> str:
        return f"Deferred({list(self._order)!r}, built={sorted(self._values)!r})"
