"""What a scenario is made of and what it produces: validated steps, checked expectations, the result.

Plain records, no behaviour: the kvm backend reads :class:`ScenarioStep` (``name``,
``arg``, ``loc``) to refuse what a real kernel cannot run, and the CLI renders
:class:`ScenarioResult` (schemas/simulate-output.schema.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seoib.errors import Location

from ..assumptions import DEFAULT, Assumptions
from ..config import SimHost, SimVM
from ..outcome import VMState

__all__ = ["Expectation", "ScenarioResult", "ScenarioStep"]


@dataclass(frozen=True)
class ScenarioStep:
    """One validated step: its table name, its parsed argument and where it was written."""

    index: int
    name: str
    arg: Any
    loc: Location


@dataclass(frozen=True)
class Expectation:
    """One checked expectation; ``depends_on`` names what its value rests on besides the
    registers (``eoi_at_delivery``: the kernel processed an EOI at delivery)."""

    step: int
    line: int | None
    key: str
    expected: Any
    actual: Any
    passed: bool
    depends_on: tuple[str, ...] = ()


@dataclass
class ScenarioResult:
    """Everything a scenario run produced."""

    source: str
    host: SimHost
    vm: SimVM
    expectations: list[Expectation] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    state: VMState | None = None
    outcome: str | None = None
    findings: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    backend: dict[str, Any] | None = None  # what ran the register-level steps, when not the simulator
    assume: Assumptions = DEFAULT  # the switches in force for unconfirmed behaviour

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return all(e.passed for e in self.expectations)
