"""One thing the lab saw, with the question the engine is asked about it.

Contract: an :class:`Observation` is the record of one real run - a paused
power-on, a guest run or a migration - as data: which binaries and kernel views,
the command line, what was observed (``observed``), and ``engine_input``: the
exact specs the engine is asked for the same configuration (``policy``: host and
VM; ``migrate``: source, destination and VM). Evidence files hold these records,
so the engine can be asked again later without the binaries. ``host_dependent``
says when what was seen depends on this host's KVM implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "Judgement", "Observation"]

KINDS = ("power-on", "guest", "migration")


@dataclass
class Observation:
    kind: str
    id: str
    binaries: dict[str, str]  # role ("binary", "src", "dst") -> binary label
    kernels: dict[str, str]  # role -> kernel view name
    cmdline: str
    engine_input: dict[str, Any]  # {"query": "policy"|"migrate", "host"|"src"|"dst": spec, "vm": spec}
    observed: dict[str, Any] = field(default_factory=dict)
    host_dependent: str | None = None
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "binaries": self.binaries, "kernels": self.kernels,
                "cmdline": self.cmdline, "engine_input": self.engine_input,
                "observed": self.observed, "host_dependent": self.host_dependent,
                "seconds": round(self.seconds, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observation:
        return cls(kind=data["kind"], id=data["id"], binaries=dict(data["binaries"]),
                   kernels=dict(data["kernels"]), cmdline=data["cmdline"],
                   engine_input=dict(data["engine_input"]), observed=dict(data["observed"]),
                   host_dependent=data.get("host_dependent"), seconds=data.get("seconds", 0.0))


@dataclass(frozen=True)
class Judgement:
    """The engine's answer for an observation and whether the two agree.

    ``engine`` holds the verdict's parts that were compared; ``differences`` one
    line per disagreement, each naming both sides; ``inconclusive`` when the run
    itself said nothing usable (then ``agrees`` is False too: nothing was shown).
    ``witness_agrees`` is the simulator's check of the engine's own verdict.
    """

    agrees: bool
    engine: dict[str, Any]
    differences: tuple[str, ...] = ()
    inconclusive: str | None = None
    witness_agrees: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"agrees": self.agrees, "engine": self.engine, "differences": list(self.differences),
                "inconclusive": self.inconclusive, "witness_agrees": self.witness_agrees}
