"""One VM's life: cold boots, device events, migrations, savevm/loadvm, resets.

With guest ``any`` every known guest runs its own copy of the VM, so the verdict is
the worst case over the known behaviours. The session keeps the current
observation window: ``phase`` (boot, reset, migrate, snapshot) and the findings
decided before any interrupt ran in it (start-fails, unsupported, refused,
dest-abort, cpu-model-change).
"""

from __future__ import annotations

from .assumptions import DEFAULT, Assumptions
from .config import KNOWN_GUESTS, SimHost, SimVM
from .kvm import IRQCHIP_NONE
from .outcome import POLICY_OF_MODE, VMState, order_findings, run_findings
from .qemu import LoadFailure, Machine, Qemu, Snapshot, StartFailure
from .trace import Trace

__all__ = ["Session"]


class Session:
    """A VM on a host, driven step by step."""

    __slots__ = ("assume", "completed", "guests", "host", "machines", "phase", "pre", "source_runstate",
                 "trace", "vm")

    def __init__(self, host: SimHost, vm: SimVM, trace: Trace | None = None,
                 assume: Assumptions = DEFAULT) -> None:
        self.host = host
        self.vm = vm
        self.trace = trace if trace is not None else Trace()
        self.assume = assume
        self.guests = KNOWN_GUESTS if vm.guest == "any" else (vm.guest,)
        self.machines: list[Machine] = []
        self.phase = "none"
        self.pre: list[str] = []
        self.completed = False  # the last migration/restore finished loading
        # The source QEMU's runstate after the last live migration (None: none yet):
        # running, postmigrate (stream all sent; paused until `cont`) or not-started.
        self.source_runstate: str | None = None

    @property
    def running(self) -> bool:
        """Whether a VM is currently running."""
        return bool(self.machines)

    def fork(self) -> Session:
        """A session in this one's state with its own copy of the trace, sharing its machines.

        For a step that only reads the running machines and replaces them: a live
        migration or a savevm. One boot then serves a source's migrations to many
        destinations (seoib.sim.api); a step that runs the shared machines (irqs, reset,
        loadvm) must not be taken on a fork.
        """
        twin = Session(self.host, self.vm, self.trace.copy(), self.assume)
        twin.machines = self.machines.copy()
        twin.phase, twin.pre, twin.completed = self.phase, self.pre.copy(), self.completed
        twin.source_runstate = self.source_runstate
        return twin

    # -- steps -----------------------------------------------------------
    def boot(self, host: SimHost | None = None) -> bool:
        """Power off whatever runs and cold-boot on ``host`` (default: the current one)."""
        if host is not None:
            self.host = host
        self.phase, self.pre, self.completed = "boot", [], False
        qemu = Qemu(self.host, self.trace, self.assume)
        try:
            self.machines = [qemu.start(self.vm, guest) for guest in self.guests]
        except StartFailure as exc:
            self.trace(f"{self.host.name}: QEMU refuses to start: {exc}")
            self.machines = []
            self.pre = ["start-fails"]
            return False
        return True

    def irqs(self, count: int) -> None:
        """``count`` device events on every running copy."""
        for m in self.machines:
            m.irq_events(count)

    def reset(self) -> None:
        """system_reset: KVM keeps its mode, the guest boots again; a new window."""
        self.phase, self.pre = "reset", []
        for m in self.machines:
            m.system_reset()
            m.reset_baseline()

    def savevm(self) -> tuple[Snapshot, ...]:
        """savevm on every running copy (empty when nothing runs)."""
        return tuple(m.save() for m in self.machines)

    def migrate(self, dst: SimHost, streams: tuple[Snapshot, ...] | None = None) -> None:
        """Live migration to ``dst``.

        The source goes on running when the destination refuses the stream or never
        starts (its ``migrate`` fails). Once the whole stream was sent, the source QEMU
        reports the migration completed and stays paused (``postmigrate``) until a
        ``cont``, whether the destination then runs the guest or aborts in post_load;
        the session keeps the source's machines then, to be resumed. ``streams``: what each
        running copy sends, if already saved (``Machine.save`` with the host's commands).
        """
        self.phase, self.pre, self.completed = "migrate", [], False
        if not self.machines:
            self.trace("nothing runs: nothing to migrate")
            self.pre = ["unsupported"]
            self.source_runstate = "not-started"
            return
        self.source_runstate = "running"
        qemu = Qemu(dst, self.trace, self.assume)
        moved: list[Machine] = []
        changed = False
        for i, m in enumerate(self.machines):
            stream = streams[i] if streams is not None else m.save(self.host.sends_commands)
            try:
                target = qemu.start(self.vm, m.guest.name, incoming=True)
            except StartFailure:
                self.pre = ["unsupported"]
                return
            try:
                target.load(stream)
            except LoadFailure as exc:
                self.pre = [exc.kind]
                if exc.kind == "dest-abort":
                    self.source_runstate = "postmigrate"
                    self.trace(f"migration to {dst.name} failed ({exc}) after the whole stream was "
                               "sent: the source reports completed and stays paused (postmigrate) "
                               "until `cont`")
                else:
                    self.trace(f"migration to {dst.name} failed ({exc}); source keeps running")
                return
            changed = changed or stream.lvr_seoib != target.lvr_seoib
            moved.append(target)
        self.machines, self.host, self.completed = moved, dst, True
        self.source_runstate = "postmigrate"
        self.pre = ["cpu-model-change"] if changed else []

    def loadvm(self, snaps: tuple[Snapshot, ...]) -> None:
        """QMP/HMP loadvm into the running VM; KVM keeps its mode unless a section changes it."""
        self.phase, self.pre, self.completed = "snapshot", [], False
        if not self.machines or len(snaps) != len(self.machines):
            self.trace("loadvm: no running VM or no matching snapshot")
            self.pre = ["unsupported"]
            return
        changed = False
        for m, snap in zip(self.machines, snaps, strict=True):
            try:
                m.load(snap)
            except LoadFailure as exc:
                self.pre = [exc.kind]
                if exc.kind == "dest-abort":
                    self.machines = []
                return
            changed = changed or snap.lvr_seoib != m.lvr_seoib
        self.completed = True
        self.pre = ["cpu-model-change"] if changed else []

    # -- observation -----------------------------------------------------
    def per_guest_counters(self) -> list[dict[str, int]]:
        """Counters of each running copy in the current window."""
        return [m.counters() for m in self.machines]

    def counters(self) -> dict[str, int]:
        """Counters summed over the running copies."""
        return _total(self.per_guest_counters())

    def findings(self) -> tuple[str, ...]:
        """Every finding of the current window, in the contract's order."""
        return self._findings(self.per_guest_counters())

    def _findings(self, per_guest: list[dict[str, int]]) -> tuple[str, ...]:
        known = self.vm.guest != "any"
        return order_findings([*self.pre, *run_findings(per_guest, known)])

    def observe_run(self) -> tuple[tuple[str, ...], dict[str, int]]:
        """(findings, counters) of the current window, each copy's counters read once:
        what :meth:`findings` and :meth:`counters` return, in one pass."""
        per_guest = self.per_guest_counters()
        return self._findings(per_guest), _total(per_guest)

    def observe_boot(self) -> tuple[str, VMState | None, dict[str, int]]:
        """(outcome, state, counters) of the current window, each copy's counters read once:
        what :meth:`outcome`, :meth:`state` and :meth:`counters` return, in one pass."""
        per_guest = self.per_guest_counters()
        return self._outcome(per_guest), self.state(), _total(per_guest)

    def applicable(self) -> bool:
        """Whether SEOIB can matter at all: a KVM LAPIC, x2APIC in CPUID, and an IOAPIC
        that routes the device's level line (a board without one has no device on it)."""
        if not self.machines:
            return self.vm.irqchip != IRQCHIP_NONE and self.vm.x2apic and self.vm.has_ioapic
        m = self.machines[0]
        return m.vcpu.in_kernel_lapic and m.vcpu.cpuid_x2apic and bool(m.devices)

    def outcome(self) -> str:
        """The verdict of the current window (boot table or migration table)."""
        return self._outcome(None)

    def _outcome(self, per_guest: list[dict[str, int]] | None) -> str:
        if self.phase in ("boot", "reset", "none") and "start-fails" in self.pre:
            return "start-fails"
        found = self._findings(self.per_guest_counters() if per_guest is None else per_guest)
        if self.phase in ("boot", "reset", "none"):
            if found:
                return found[0]
            return "ok" if self.applicable() else "not-applicable"
        return found[0] if found else "ok"

    def state(self) -> VMState | None:
        """The VM's SEOIB state as KVM holds it (None when nothing runs)."""
        if not self.machines:
            return None
        m = self.machines[0]
        kvm_vm = m.kvm_vm
        return VMState(
            policy=POLICY_OF_MODE[kvm_vm.mode] if m.vcpu.in_kernel_lapic else "n/a",
            kvm_flags=kvm_vm.seoib_flags(),
            lvr_seoib=m.lvr_seoib,
            suppression_honored=m.probe_suppression(),
        )


def _total(per_guest: list[dict[str, int]]) -> dict[str, int]:
    """Counters summed over the running copies."""
    total: dict[str, int] = {}
    for c in per_guest:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return total
