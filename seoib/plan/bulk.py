"""Building many small records at once, without the cyclic collector's rescans.

Reading a plan written host by host and following it through its waves allocate
hundreds of thousands of small acyclic objects (mappings per line, entries,
populations). Each allocation burst lets CPython's cyclic collector rescan every
object still alive, so the work grows faster than the plan: a 100,000-host plan
spent about a third of its time there. Nothing built here forms a cycle that only
the collector could free, so :func:`paused_collector` pauses it for the duration
and restores it after, whatever happens inside.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_collector"]


@contextmanager
def paused_collector() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
