"""What step and expectation entries see: the parse-time context and the state of a run.

:class:`ParseContext` is what a step's ``parse`` may consult (the spec resolver, the
scenario's host and VM); :class:`RunState` is what a step's ``run`` changes and an
expectation's ``read`` looks at: the booted session or the bare VM (bench), the
register-level targets, the last ioctl result and the expectations checked so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seoib.errors import BadInput

from ..assumptions import DEFAULT, Assumptions
from ..config import SimHost, SimVM
from ..lapic import LVR_SEOIB
from ..outcome import POLICY_OF_MODE, VMState
from ..qemu import Snapshot
from ..session import Session
from .backend import SIM_BACKEND, Backend
from .records import Expectation, ScenarioStep
from .specs import Specs

__all__ = ["ParseContext", "RunState"]


@dataclass(frozen=True)
class ParseContext:
    """What a step's parser may consult; ``vm`` is None when the scenario names no VM."""

    specs: Specs
    host: SimHost
    vm: SimVM | None


@dataclass
class RunState:
    """The state a run builds step by step."""

    host: SimHost
    vm: SimVM
    backend: Backend = SIM_BACKEND
    session: Session | None = None
    bench: Any = None  # the backend's bare VM after create_vm (Bench or the kvm backend's)
    targets: list[Any] = field(default_factory=list)  # what register-level steps act on
    snaps: tuple[Snapshot, ...] | None = None
    last_result: int | None = None
    expectations: list[Expectation] = field(default_factory=list)
    assume: Assumptions = DEFAULT  # the switches in force for what nobody has confirmed

    def target(self, step: ScenarioStep, need_vcpu: bool = True) -> Any:
        """The first register-level target (every target has kvm_vm, vcpu and ioapic)."""
        if not self.targets:
            raise BadInput(f"{step.name}: no VM yet (use create_vm or boot first)", step.loc)
        first = self.targets[0]
        if need_vcpu and first.vcpu is None:
            raise BadInput(f"{step.name}: the VM has no vCPU yet (use create_vcpu)", step.loc)
        return first

    def guest_ran(self) -> None:
        """A guest-side step ran: a KVM_RUN of each target's vCPU."""
        for t in self.targets:
            if t.vcpu is not None:
                t.vcpu.enter()

    def booted(self, step: ScenarioStep) -> Session:
        """The session a high-level step acts on."""
        if self.session is None:
            raise BadInput(f"{step.name}: needs a booted VM (use boot first)", step.loc)
        return self.session

    def state(self) -> VMState | None:
        """The VM state as ``seoib migrate`` reports it (None before a vCPU exists)."""
        if self.bench is None:
            return self.session.state() if self.session is not None else None
        b = self.bench
        if b.vcpu is None:
            return None
        return VMState(
            policy=POLICY_OF_MODE[b.kvm_vm.mode] if b.vcpu.in_kernel_lapic else "n/a",
            kvm_flags=b.kvm_vm.seoib_flags(),
            lvr_seoib=bool(b.vcpu.lapic.lvr & LVR_SEOIB),
            suppression_honored=b.suppression_honored(),
        )
