"""A memo bounded by bytes, not entries: flat memory under endless distinct keys.

A long-running caller (the decision service, a batch of millions of lines)
meets keys without end: spec texts, release names, machine type names. A bound
on entries lets a few huge keys (a 300 kB name) or heavy values grow memory
without limit; a bound on bytes does not. Each entry is charged what the
caller says it costs (its key's length plus an estimate of its value), and
when the charges pass the budget the memo ages one generation:

- lookups go to the young generation, then to the old one; a hit in the old
  one is promoted (kept for another generation);
- when the young generation has used half the budget, the old one is dropped
  and the young one becomes old.

So memory stays within the budget (two halves), an entry in use survives, and
there is no cliff where every entry is lost at once. A hit in the young
generation costs one dictionary lookup.

>>> memo = SizedMemo(1000, cost=lambda key, value: len(key) * 100)
>>> memo.put("a", 1), memo.get("a"), memo.get("b")
(1, 1, None)
>>> for key in "bcdefghij":
...     _ = memo.put(key, 0)
>>> memo.charged <= memo.budget
True
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ENTRY_BYTES", "SizedMemo", "text_cost"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

ENTRY_BYTES = 160  # a dict slot, the key object and the value's header: what any entry costs


def text_cost(key: object, value: object) -> int:
    """The default charge: the entry's overhead and the length of a text key (or the
    lengths of a tuple of texts), the value counted as small."""
    if isinstance(key, str):
        return ENTRY_BYTES + len(key)
    if isinstance(key, tuple):
        return ENTRY_BYTES + sum(len(k) if isinstance(k, str) else 16 for k in key)
    return ENTRY_BYTES


class SizedMemo(Generic[K, V]):
    """``get``/``put`` with at most ``budget`` bytes charged (by ``cost(key, value)``)."""

    __slots__ = ("_charged", "_old", "_young", "budget", "cost")

    def __init__(self, budget: int, cost: Callable[[K, V], int] = text_cost) -> None:
        self.budget = budget
        self.cost = cost
        self._young: dict[K, V] = {}
        self._old: dict[K, V] = {}
        self._charged = 0  # what the young generation was charged

    @property
    def charged(self) -> int:
        """Bytes charged to the young generation (the old one holds at most half the budget)."""
        return self._charged

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def get(self, key: K) -> V | None:
        hit = self._young.get(key)
        if hit is None:
            hit = self._old.pop(key, None)
            if hit is not None:
                self.put(key, hit)
        return hit

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` under ``key`` and return it; an entry that would take more
        than half the budget on its own is returned but not kept."""
        cost = self.cost(key, value)
        half = self.budget // 2
        if cost > half:
            return value
        self._charged += cost
        if self._charged > half:
            self._old = self._young
            self._young = {}
            self._charged = cost
        self._young[key] = value
        return value

    def clear(self) -> None:
        self._young.clear()
        self._old.clear()
        self._charged = 0
