"""Typed errors. Each carries the exit code the CLI maps it to.

Every user-facing failure is one of these; the CLI prints ``str(err)`` as a single
line (control characters escaped) and exits with ``err.exit_code``. Anything else
that escapes is a bug: the CLI reports it as an internal error, exit 70.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadInput",
    "Disagreement",
    "Location",
    "OutputError",
    "RuleError",
    "SeoibError",
    "SpecError",
]


class Location:
    """Where a problem is: a file and a 1-based line, or a command-line argument.

    A frozen value written out by hand rather than with seoib.record: this module is
    the one the simulator and the KVM backend may import, and it imports nothing.
    """

    __record_fields__ = ("source", "line")  # what the rules cache stores, in order
    __match_args__ = __record_fields__

    source: str
    line: int | None

    def __init__(self, source: str, line: int | None = None) -> None:
        fields = self.__dict__
        fields["source"] = source
        fields["line"] = line

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return (self.source, self.line) == (other.source, other.line)  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.source, self.line))

    def __repr__(self) -> str:
        return f"Location(source={self.source!r}, line={self.line!r})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __str__(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


class SeoibError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class BadInput(SeoibError):
    """Anything the user handed us is unusable (exit 3)."""

    exit_code = 3


class SpecError(BadInput):
    """A host or VM spec, plan or scenario does not parse or names something unknown."""


class RuleError(BadInput):
    """A rule set is invalid: schema, reference, cycle or conflict.

    It may carry several problems (every problem of every file is reported at
    once); ``str()`` gives one ``file:line: message`` line per problem.
    """

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        *,
        more: list[tuple[Location | None, str]] | None = None,
    ) -> None:
        super().__init__(message, location)
        self.more = more or []

    @classmethod
    def from_problems(cls, problems: list[tuple[Location | None, str]]) -> RuleError:
        (location, message), *rest = problems
        return cls(message, location, more=rest)

    def __str__(self) -> str:
        lines = [super().__str__()]
        lines += [f"{loc}: {msg}" if loc else msg for loc, msg in self.more]
        return "\n".join(lines)


class Disagreement(SeoibError):
    """The solver and the simulator derived different verdicts (exit 4; a bug in the rules
    or the simulator, reported with both sides, never passed off as a verdict)."""

    exit_code = 4


class OutputError(SeoibError):
    """The answer could not be written: standard output closed, a reader that stopped
    reading (broken pipe), a full disk (exit 74, sysexits' EX_IOERR). The work itself
    was done; only its output is missing or cut short."""

    exit_code = 74
