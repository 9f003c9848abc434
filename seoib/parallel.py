"""Spread independent class evaluations over the machine's cores.

Workers are forked, so they inherit the compiled rule set instead of
unpickling it; results come back in input order, so output built from them
stays byte-identical. Where fork is missing (or SEOIB_JOBS=1) everything runs
in this process.

The cycle collector is off while a map runs (workers inherit that): class
evaluations and simulations leave no reference cycles, refcounting frees what
they drop, and full collections over the growing memos took a quarter of a
class-space validation. Whatever cycles do appear are collected when it ends.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["fork_map", "jobs_count"]

T = TypeVar("T")
R = TypeVar("R")

_SHARED: tuple[Callable[[Any, Any], Any], Any] | None = None  # set in the parent before forking


def jobs_count() -> int:
    env = os.environ.get("SEOIB_JOBS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return min(2, os.cpu_count() or 1)


def _call(item: Any) -> Any:
    assert _SHARED is not None
    fn, shared = _SHARED
    return fn(shared, item)


def fork_map(fn: Callable[[Any, T], R], shared: Any, items: Sequence[T]) -> Iterator[R]:
    """``fn(shared, item)`` for every item, in order, on up to :func:`jobs_count` processes."""
    global _SHARED
    workers = jobs_count()
    collecting = gc.isenabled()
    gc.disable()
    try:
        if workers > 1 and len(items) > 1 and "fork" in mp.get_all_start_methods():
            _SHARED = (fn, shared)
            try:
                with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                    yield from pool.map(_call, items, chunksize=1)
            finally:
                _SHARED = None
            return
        for item in items:
            yield fn(shared, item)
    finally:
        if collecting:
            gc.enable()
