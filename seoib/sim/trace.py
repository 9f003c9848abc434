"""A bounded human-readable trace: recording must never cost more than a list append."""

from __future__ import annotations

__all__ = ["MAX_EVENTS", "Trace"]

MAX_EVENTS = 48


class Trace:
    """Keeps the first ``limit`` lines and counts the rest."""

    __slots__ = ("dropped", "limit", "lines")

    def __init__(self, limit: int = MAX_EVENTS) -> None:
        self.lines: list[str] = []
        self.limit = limit
        self.dropped = 0

    def __call__(self, line: str) -> None:
        if len(self.lines) < self.limit:
            self.lines.append(line)
        else:
            self.dropped += 1

    def copy(self) -> Trace:
        """A trace holding the same lines so far, recorded into separately from here on."""
        twin = Trace(self.limit)
        twin.lines = self.lines.copy()
        twin.dropped = self.dropped
        return twin

    def freeze(self) -> tuple[str, ...]:
        """The trace as a tuple, with a final line saying how much was left out."""
        if self.dropped:
            return (*self.lines, f"... {self.dropped} more")
        return tuple(self.lines)
