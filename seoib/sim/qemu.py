"""QEMU's side: start a machine on KVM, save and load it, run the vCPU.

What the build does about SEOIB - the power-on selection, whether the
``x86-seoib-state`` section is needed, its post_load, its -accel properties - is
the design's code (seoib/sim/designs/), looked up by the design's name. The
selection runs only at a fresh power-on, before vCPUs exist; an incoming (or
-loadvm) QEMU leaves KVM's mode to the stream.
"""

from __future__ import annotations

from .assumptions import DEFAULT, Assumptions
from .config import SimHost, SimVM
from .designs import QemuDesign, design
from .devices import DeviceState, LevelDevice
from .frozen import Value
from .guest import Guest, GuestState, make_guest
from .ioapic import (
    RTE_LEVEL,
    RTE_MASK,
    RTE_REMOTE_IRR,
    RTE_VECTOR,
    VERSION_82093AA,
    Ioapic,
    IoapicState,
)
from .kvm import IRQCHIP_KERNEL, IRQCHIP_NONE, IRQCHIP_SPLIT, Kvm, KvmVcpu, KvmVm, errno_name
from .lapic import LVR_SEOIB, SVR_ENABLE, SVR_SEOIB, LapicState
from .seoib import (
    NOT_ADVERTISED,
    QUIRKED,
    RESPECTED,
    SEOIB_SECTION,
    STATE_FLAG,
    Board,
    LoadFailure,
    StartFailure,
)
from .storm import point, skip_turns
from .trace import Trace

__all__ = [
    "DEVICE_PIN",
    "DEVICE_VECTOR",
    "NOT_ADVERTISED",
    "QUIRKED",
    "RESPECTED",
    "SEOIB_SECTION",
    "STATE_FLAG",
    "LoadFailure",
    "Machine",
    "Qemu",
    "Snapshot",
    "StartFailure",
    "probe_suppression",
]

DEVICE_PIN = 10
DEVICE_VECTOR = 0x61
PROBE_VECTOR = 0x71
RUN_BUDGET = 50_000  # vCPU loop iterations per device event; a safety net only


class Snapshot(Value):
    """A migration stream / savevm image: device state plus optional sections."""

    machine: str
    sections: tuple[tuple[str, str], ...]
    lapic: LapicState
    lvr_seoib: bool  # LVR bit 24 as the guest saw it when saved
    ioapic: IoapicState
    guest: GuestState
    devices: tuple[DeviceState, ...]
    commands: tuple[str, ...]  # MIG_CMD_* commands in the stream beyond the base set

    def __init__(self, machine: str, sections: tuple[tuple[str, str], ...], lapic: LapicState,
                 lvr_seoib: bool, ioapic: IoapicState, guest: GuestState,
                 devices: tuple[DeviceState, ...], commands: tuple[str, ...] = ()) -> None:
        self._store(machine=machine, sections=sections, lapic=lapic, lvr_seoib=lvr_seoib, ioapic=ioapic,
                    guest=guest, devices=devices, commands=commands)


def probe_suppression(src: KvmVm, src_vcpu: KvmVcpu, ioapic_version: int) -> bool:
    """Copy the VM's KVM mode and LVR, let a guest set SVR bit 12, EOI a level vector,
    and see whether the IOAPIC heard of it. Never touches the original."""
    kvm_vm = KvmVm(src.kvm)
    kvm_vm.irqchip = src.irqchip
    kvm_vm.mode = src.mode
    if src.irqchip == IRQCHIP_KERNEL:
        ioapic = kvm_vm.kernel_ioapic = Ioapic(VERSION_82093AA)
    else:
        ioapic = Ioapic(ioapic_version)
        kvm_vm.eoi_exit = ioapic.eoi_broadcast
    vcpu = kvm_vm.create_vcpu()
    vcpu.cpuid_x2apic = src_vcpu.cpuid_x2apic
    vcpu.lapic.lvr = src_vcpu.lapic.lvr  # the LVR the guest sees now, not a recompute
    ioapic.sink = vcpu.lapic.accept
    ioapic.write_rte(0, PROBE_VECTOR | RTE_LEVEL)
    vcpu.guest_write_svr(0xFF | SVR_ENABLE | SVR_SEOIB)
    if not vcpu.lapic.svr & SVR_SEOIB:
        return False
    ioapic.set_line(0, 1)
    if vcpu.lapic.ack() != PROBE_VECTOR:
        return False
    ioapic.set_line(0, 0)  # serviced first, so a broadcast cannot re-deliver
    vcpu.guest_eoi(ioapic.level_vectors)
    return ioapic.remote_irr(0) == 1  # no EOI message reached the IOAPIC


class Qemu:
    """One QEMU build on one host kernel; ``assume`` are the switches in force for what
    nobody has confirmed (the design's and the guest's)."""

    __slots__ = ("assume", "design", "host", "kvm", "trace")

    def __init__(self, host: SimHost, trace: Trace | None = None, assume: Assumptions = DEFAULT) -> None:
        self.host = host
        self.design: QemuDesign = design(host.seoib)
        self.kvm = Kvm(host.x2apic_api, host.split_irqchip)
        self.trace = trace if trace is not None else Trace()
        self.assume = assume

    @property
    def known_sections(self) -> frozenset[str]:
        """Top-level sections this build can load."""
        return frozenset({SEOIB_SECTION}) if self.design.knows_section else frozenset()

    def start(self, vm: SimVM, guest: str, *, incoming: bool = False) -> Machine:
        """Start QEMU for ``vm``; a fresh power-on also boots the guest.

        Raises
        ------
        StartFailure
            Unknown machine type, no split irqchip, or a KVM error QEMU cannot ignore.
        """
        trace = self.trace
        who = f"{self.host.name}[{guest}]"
        try:
            self.design.check_accel(vm)
        except StartFailure as exc:
            trace(f"{who}: {exc}")
            raise
        if self.host.machines is not None and vm.machine not in self.host.machines:
            trace(f"{who}: machine type {vm.machine!r} not registered")
            raise StartFailure(f"unsupported machine type {vm.machine!r}")
        kvm_vm = self.kvm.create_vm()
        if vm.irqchip != IRQCHIP_NONE:
            result = kvm_vm.create_irqchip(vm.irqchip)
            if result < 0:
                what = (
                    "KVM_ENABLE_CAP(SPLIT_IRQCHIP)" if vm.irqchip == IRQCHIP_SPLIT else "KVM_CREATE_IRQCHIP"
                )
                trace(f"{who}: {what} -> {errno_name(result)}")
                raise StartFailure(f"kernel-irqchip={vm.irqchip}: {what} failed with {errno_name(result)}")
        m = Machine(self, vm, kvm_vm, make_guest(guest, self.assume))
        if not incoming:
            m.seoib_state = self.design.power_on(m.board())
        # vCPUs come after the selection: LVR is first computed at SET_CPUID.
        m.vcpu.set_cpuid(vm.x2apic)
        if incoming:
            trace(f"{who}: -incoming, SEOIB mode left to the stream")
        else:
            m.guest.boot(m)
            trace(f"{who}: power-on, KVM mode {kvm_vm.mode}, LVR24={m.lvr_seoib:d}, SVR12={m.svr_seoib:d}")
        m.reset_baseline()
        return m


class Machine:
    """A running (or incoming) VM: KVM objects, the IOAPIC in use, device and guest."""

    __slots__ = (
        "baseline",
        "budget_exhausted",
        "by_vector",
        "devices",
        "guest",
        "ioapic",
        "kvm_vm",
        "qemu",
        "seoib_state",
        "stuck_events",
        "vcpu",
        "vm",
    )

    def __init__(self, qemu: Qemu, vm: SimVM, kvm_vm: KvmVm, guest: Guest) -> None:
        self.qemu = qemu
        self.vm = vm
        self.kvm_vm = kvm_vm
        self.guest = guest
        self.seoib_state = QUIRKED
        if vm.irqchip == IRQCHIP_KERNEL and kvm_vm.kernel_ioapic is not None:
            self.ioapic = kvm_vm.kernel_ioapic
        else:
            self.ioapic = Ioapic(vm.ioapic)
            kvm_vm.eoi_exit = self.ioapic.eoi_broadcast
        self.vcpu: KvmVcpu = kvm_vm.create_vcpu()
        self.ioapic.sink = self.vcpu.lapic.accept
        # A board without an IOAPIC wires its device to the 8259 PIC: no level entry, no
        # Remote IRR, no EOI message. The IOAPIC object above then has no line (with
        # kernel-irqchip=on KVM's own one exists but QEMU routes no GSI to it).
        self.devices = ((LevelDevice(self.ioapic, DEVICE_PIN, DEVICE_VECTOR),) if vm.has_ioapic
                        else ())
        self.by_vector = {dev.vector: dev for dev in self.devices}
        self.stuck_events = 0
        self.budget_exhausted = 0
        self.baseline: dict[str, int] = {}

    # -- observation -----------------------------------------------------
    @property
    def who(self) -> str:
        """Trace prefix: host and guest."""
        return f"{self.qemu.host.name}[{self.guest.name}]"

    @property
    def lvr_seoib(self) -> bool:
        """LVR bit 24 as the guest reads it."""
        return bool(self.vcpu.lapic.lvr & LVR_SEOIB)

    @property
    def svr_seoib(self) -> bool:
        """SVR bit 12 as currently held by the LAPIC."""
        return bool(self.vcpu.lapic.svr & SVR_SEOIB)

    def board(self) -> Board:
        """What the design's code sees of this machine."""
        q = self.qemu
        return Board(q.host, self.vm, q.kvm, self.kvm_vm, q.trace, self.who, q.assume)

    def probe_suppression(self) -> bool:
        """Would a guest's SVR bit 12 really suppress the broadcast? Tried on a copy."""
        return probe_suppression(self.kvm_vm, self.vcpu, self.ioapic.version)

    def wedged_pins(self) -> int:
        """Level pins whose Remote IRR is set with nothing in service or queued."""
        if self.guest.l2_pending:
            return 0
        count = 0
        isr = self.vcpu.lapic.isr
        redir = self.ioapic.redir
        pending = self.ioapic.rirr  # the pins whose Remote IRR is set (the IOAPIC's mirror)
        while pending:
            low = pending & -pending
            pending ^= low
            entry = redir[low.bit_length() - 1]
            busy = entry & (RTE_LEVEL | RTE_REMOTE_IRR | RTE_MASK)
            if busy == RTE_LEVEL | RTE_REMOTE_IRR and not (isr >> (entry & RTE_VECTOR)) & 1:
                count += 1
        return count

    def raw_counters(self) -> dict[str, int]:
        """Cumulative counters of this machine."""
        io = self.ioapic
        # The devices' counters in one pass (read at every window's start and end).
        events = serviced = redeliveries = storms = 0
        for d in self.devices:
            events += d.events
            serviced += d.serviced
            redeliveries += d.redeliveries
            storms += d.storms
        return {
            "events": events,
            "serviced": serviced,
            "deliveries": sum(io.delivered),
            "interrupts": sum(self.vcpu.lapic.taken),
            "eoi_exits": self.kvm_vm.eoi_exits,
            "redeliveries": redeliveries,
            "storms": storms,
            "stuck_events": self.stuck_events,
            "coalesced": io.coalesced,
            "throttled": io.throttled,
            "eoir_writes": io.eoir_writes,
            "eoir_ignored": io.eoir_ignored,
            "budget_exhausted": self.budget_exhausted,
        }

    def reset_baseline(self) -> None:
        """Start a new observation window (boot, migration or restore)."""
        self.baseline = self.raw_counters()

    def counters(self) -> dict[str, int]:
        """Counters since the window started, plus the wedged pins seen now."""
        base = self.baseline
        out = {k: v - base.get(k, 0) for k, v in self.raw_counters().items()}
        out["wedged_pins"] = self.wedged_pins()
        return out

    # -- running ---------------------------------------------------------
    def guest_eoi(self) -> int:
        """The guest's LAPIC EOI (KVM decides whether the IOAPIC hears of it)."""
        return self.vcpu.guest_eoi(self.ioapic.level_vectors)

    def run(self, skip: bool = True) -> None:
        """Run the vCPU until nothing is pending, queued or timed.

        A storm turns the loop the same way up to 10000 times per event; with ``skip``
        the identical turns are counted at once (seoib/sim/storm.py), with the same
        counters and registers as turning them one by one.
        """
        ack = self.vcpu.lapic.ack  # bound once: a storm runs this loop thousands of times
        guest = self.guest
        interrupt = guest.interrupt
        ioapic = self.ioapic
        budget = RUN_BUDGET
        last, seen = -1, None
        while budget > 0:
            budget -= 1
            vector = ack()
            if vector >= 0:
                if skip and vector == last:  # the same vector again: perhaps a steady storm
                    now = point(self)
                    if seen is not None:
                        budget -= skip_turns(self, seen, now, budget)
                    seen = now
                else:
                    seen = None
                last = vector
                interrupt(self, vector)
            elif guest.l2_pending:
                last = -1
                guest.work(self)
            elif ioapic.delayed:
                last = -1
                ioapic.fire_delayed()
            else:
                return
        self.budget_exhausted += 1

    def irq_events(self, count: int) -> None:
        """``count`` device events, each run until the guest is idle again."""
        trace = self.qemu.trace
        if not self.devices:
            if count:
                trace(f"{self.who}: no IOAPIC on this board: the device line goes to the 8259 "
                      "PIC; no level interrupt reaches the LAPIC through an IOAPIC")
            return
        dev = self.devices[0]
        for _ in range(count):
            storms = dev.storms
            dev.raise_event()
            self.run()
            if dev.pending:
                self.stuck_events += 1
                trace(
                    f"stuck: pin {dev.pin} asserted, never delivered "
                    f"(Remote IRR={self.ioapic.remote_irr(dev.pin)})"
                )
            elif dev.storms != storms:
                trace(f"storm: vector {dev.vector:#x} re-delivered before the device was serviced")

    def system_reset(self) -> None:
        """system_reset: devices and vCPU reset (LVR recomputed), the guest boots again."""
        self.ioapic.reset()
        for dev in self.devices:
            dev.pending = False
        self.vcpu.reset()
        self.guest.boot(self)
        self.qemu.trace(f"{self.who}: system_reset, LVR24={self.lvr_seoib:d}, SVR12={self.svr_seoib:d}")

    # -- migration -------------------------------------------------------
    def save(self, commands: frozenset[str] = frozenset()) -> Snapshot:
        """The stream; the design decides whether the SEOIB section is ``needed``.
        ``commands``: the stream commands a live migration sends (none for savevm)."""
        needed = self.qemu.design.needed(self.vm, self.seoib_state)
        sections = ((SEOIB_SECTION, self.seoib_state),) if needed else ()
        return Snapshot(
            machine=self.vm.machine,
            sections=sections,
            lapic=self.vcpu.lapic.get_state(),  # KVM_GET_LAPIC, or QEMU's own APIC's vmstate
            lvr_seoib=self.lvr_seoib,
            ioapic=self.ioapic.get_state(),
            guest=self.guest.get_state(),
            devices=tuple(d.get_state() for d in self.devices),
            commands=tuple(sorted(commands)),
        )

    def load(self, snap: Snapshot) -> None:
        """Load a stream: sections (post_load may set flags), devices, then registers.

        Raises
        ------
        LoadFailure
            ``refused`` for an unknown section, ``dest-abort`` when post_load fails.
        """
        trace = self.qemu.trace
        who = self.who
        # The commands come before the final device state (the SEOIB section among it).
        for cmd in snap.commands:
            if cmd not in self.qemu.host.loads_commands:
                trace(f"{who}: stream command {cmd} unknown: load fails, QEMU exits")
                raise LoadFailure("refused", f"{cmd} unknown")
        known = self.qemu.known_sections
        for name, _ in snap.sections:
            if name not in known:
                trace(f"{who}: Unknown savevm section {name!r}: load fails")
                raise LoadFailure("refused", f"Unknown savevm section {name!r}")
        for _, state in snap.sections:
            self._post_load_seoib(state)
        self.ioapic.set_state(snap.ioapic)
        for dev, state in zip(self.devices, snap.devices, strict=True):
            dev.set_state(state)
        self.guest.set_state(snap.guest)
        if self.vcpu.in_kernel_lapic:
            self.vcpu.set_lapic(snap.lapic)  # LVR recomputed here, SVR copied verbatim
        else:
            self.vcpu.lapic.set_state(snap.lapic)  # QEMU's own APIC: no KVM LAPIC to load
        trace(f"{who}: loaded, KVM mode {self.kvm_vm.mode}, LVR24 {snap.lvr_seoib:d} -> {self.lvr_seoib:d}")
        self.reset_baseline()

    def _post_load_seoib(self, state: str) -> None:
        self.qemu.design.post_load(self.board(), state)
        self.seoib_state = state
