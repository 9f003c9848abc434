"""The ``kvm`` backend of ``seoib simulate``: register-level steps on the real /dev/kvm.

The kernel supplies the LAPIC (LVR, SVR, IRR/ISR/TMR), the ioctl answers and the
KVM_EXIT_IOAPIC_EOI exits; the simulator's IOAPIC model (``seoib.sim.ioapic``)
plays QEMU's part on split irqchip: its redirection entries become MSI routes of the
24 reserved pins (KVM_SET_GSI_ROUTING; level routes put their vector in KVM's
IOAPIC-handled bitmap) and its messages go in with KVM_SIGNAL_MSI. With the
in-kernel irqchip the lines go in with KVM_IRQ_LINE and KVM's own IOAPIC answers.
Guest-side steps run as real-mode programs (``guest``).

The objects handed to the scenario runner have the attributes of the simulator's
(``kvm``, ``kvm_vm``, ``vcpu``, ``ioapic``); what the kernel does not expose is said
where it is kept:

- the SEOIB mode: KVM has no ioctl to read it, so it follows the ENABLE_CAP calls
  the kernel accepted (their consequences, LVR and EOI exits, are measured);
- a kernel that processes the LAPIC EOI when it delivers the interrupt (a nested
  backend does) leaves nothing in ISR and exits for the EOI during ``run``. Those
  exits are held and handed to the IOAPIC when the guest writes its EOI, the order
  QEMU would see on hardware; the exits themselves are counted when they happen.
  The vectors the guest accepted and has not EOIed are kept beside the real ISR,
  and no interrupt of a class in service is taken, as the CPU would. No such replay
  is silent: every held exit is recorded with the step that took it and the step
  that handed it over (:meth:`KvmBackend.report`), and the expectations whose values
  depend on that timing are marked (:meth:`KvmBackend.depends_on`), beside which KVM
  answered and when it processes EOIs (``seoib.kvmhost.host``).

Every guest-side step enters the guest (KVM_RUN), ``run`` at least once even with
nothing to accept, and nothing else does: that is when the kernel starts refusing a
changed CPUID. A repeated ``set_cpuid`` re-sends the vCPU's own entries
(KVM_GET_CPUID2) with the x2APIC bit as asked, as a VMM re-sends the CPUID it set;
the kernel keeps other bits than the supported list it was given (measured on
6.18.44: leaves 1, 7 and 0xD), so re-sending that list would never be identical.

Steps that a real kernel cannot run (boot, device events, migration, snapshots;
a host spec other than the running kernel) are refused before anything runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from seoib.errors import BadInput, Location
from seoib.sim.ioapic import (
    EOIR_OFFSET,
    IOAPIC_PINS,
    RTE_LEVEL,
    RTE_MASK,
    RTE_REMOTE_IRR,
    RTE_RO,
    RTE_VECTOR,
    VERSION_82093AA,
    Ioapic,
)
from seoib.sim.kvm import MODE_DISABLED, MODE_ENABLED, MODE_QUIRKED
from seoib.sim.lapic import LVR_SEOIB, SVR_ENABLE, SVR_SEOIB
from seoib.sim.scenario import EXPECTS, STEPS, ScenarioStep

from . import abi, guest
from .device import KvmUnavailable, System, usable
from .machine import GuestError, GuestVm, RunLog

__all__ = ["DEVICE", "HIGH_LEVEL_STEPS", "SESSION_EXPECTS", "KvmBackend", "KvmUnavailable", "open_backend"]

DEVICE = "/dev/kvm"  # tests point it elsewhere to see the refusal

# What needs a booted QEMU VM, read from the scenario tables; reset also runs on a
# bare VM and is refused below only before create_vm.
HIGH_LEVEL_STEPS = tuple(n for n, d in STEPS.items() if d.level == "session" and n != "reset")
# What the guest executes, and reset, need KVM's LAPIC here.
GUEST_STEPS = (*(n for n, d in STEPS.items() if d.guest), "reset")
SESSION_EXPECTS = tuple(k for k, d in EXPECTS.items() if d.needs == "session")

MSI_ADDRESS = 0xFEE00000  # physical destination APIC ID 0
MSI_LEVEL = 1 << 15  # trigger mode
MSI_ASSERT = 1 << 14
CPUID_X2APIC = 1 << 21  # leaf 1 ECX
MAX_WINDOWS = 512  # as the simulator's run: bounded even if a line keeps re-delivering
# Read right after a delivery, ISR and IRR show when the kernel processed the EOI; after a
# held exit was handed on, what the IOAPIC shows follows the replay, not the kernel's moment.
TIMING_KEYS = ("isr", "irr")
REPLAY_KEYS = ("remote_irr", "deliveries", "interrupts", "irr", "isr")
SVR_OFFSET, LVR_OFFSET, LVT0_OFFSET = 0xF0, 0x30, 0x350
LVT_MASKED = 1 << 16
ISR_OFFSET, TMR_OFFSET, IRR_OFFSET = 0x100, 0x180, 0x200
APIC_BASE_RESET = 0xFEE00000 | (1 << 11) | (1 << 8)  # enabled, BSP


def _reg(page: bytes, offset: int) -> int:
    return int.from_bytes(page[offset : offset + 4], "little")


def _with_reg(page: bytes, offset: int, value: int) -> bytes:
    return page[:offset] + (value & 0xFFFFFFFF).to_bytes(4, "little") + page[offset + 4 :]


def _bits256(page: bytes, base: int) -> int:
    value = 0
    for i in range(8):
        value |= _reg(page, base + 16 * i) << (32 * i)
    return value


def _highest(bits: int) -> int:
    return bits.bit_length() - 1


class KvmBackend:
    """Opens /dev/kvm once; every ``create_vm`` step gets its own VM."""

    name = "kvm"

    def __init__(self, path: str = "/dev/kvm") -> None:
        reason = usable(path)
        if reason is not None:
            raise KvmUnavailable(reason)
        self.system = System(path)
        self.mask = self.system.check_extension(abi.KVM_CAP_X2APIC_API)
        self.cpuid = self.system.supported_cpuid()
        self.benches: list[KvmBench] = []
        self.eoi_at_delivery = False  # observed: the kernel EOIs when it delivers
        # Which KVM answered: a seoib.kvmhost.host.KvmHost, set by whoever opened the backend
        # (host.py measures with this module, so it is not imported here).
        self.host: Any = None
        self.step = 0  # the scenario step running now (1-based; 0 before any)
        # EOI exits taken at delivery and held for the guest's EOI: step, vector, handed at
        self.holds: list[dict[str, int | None]] = []

    # -- the scenario runner's seam -------------------------------------------
    def check(self, steps: Iterable[ScenarioStep], host: Any, where: Location) -> None:
        """Refuse, before anything runs, what a real kernel cannot do."""
        if host.x2apic_api != self.mask:
            raise BadInput(
                f"host x2apic-api={host.x2apic_api:#x} is not this kernel's {self.mask:#x}: "
                "the kvm backend runs on the kernel it has",
                where,
            )
        if not host.split_irqchip:
            raise BadInput("host split-irqchip=off: this kernel has split irqchip", where)
        bench = False
        in_kernel = False
        no_lapic = False
        for step in steps:
            if step.name in HIGH_LEVEL_STEPS or (step.name == "reset" and not bench):
                raise BadInput(
                    f"{step.name}: a high-level step; the kvm backend runs register-level steps only",
                    step.loc,
                )
            if step.name == "create_vm":
                bench = True
                in_kernel = step.arg["irqchip"] == "on"
                no_lapic = step.arg["irqchip"] == "off" and step.arg["vcpu"]
            if step.name in GUEST_STEPS and no_lapic:
                raise BadInput(
                    f"{step.name}: the guest's LAPIC would be userspace's (irqchip off), "
                    "which the kvm backend does not provide",
                    step.loc,
                )
            if step.name == "expect":
                for key, _value, loc in step.arg:
                    if key in SESSION_EXPECTS:
                        raise BadInput(f"expect {key}: needs a booted VM, which the kvm backend has not", loc)
                    if key == "deliveries" and in_kernel:
                        raise BadInput("expect deliveries: KVM's in-kernel IOAPIC does not count them", loc)

    def system_kvm(self, host: Any) -> _System:
        return _System(self)

    def bench(self, host: Any, irqchip: str, ioapic: int, vcpu: bool) -> KvmBench:
        bench = KvmBench(self, irqchip, ioapic, vcpu)
        self.benches.append(bench)
        return bench

    def close(self) -> None:
        for bench in self.benches:
            bench.close()
        self.benches.clear()
        self.system.close()

    # -- what the run depended on ----------------------------------------------
    def begin_step(self, number: int) -> None:
        """The runner starts step ``number`` (1-based): held exits are recorded against it."""
        self.step = number

    def depends_on(self, step: int, key: str) -> tuple[str, ...]:
        """What an expectation read at ``step`` depends on besides the registers: the
        kernel's EOI timing, where ISR/IRR are read after a delivery that EOIed at once,
        or where an EOI exit was held for the guest's EOI before the value was read."""
        if not self.eoi_at_delivery:
            return ()
        held_before = any(h["step"] is not None and h["step"] <= step for h in self.holds)
        if key in TIMING_KEYS or (held_before and key in REPLAY_KEYS):
            return ("eoi_at_delivery",)
        return ()

    def report(self) -> dict[str, Any]:
        """Which KVM answered, its EOI timing, and every EOI exit that was held and handed on."""
        host = self.host.as_json() if self.host is not None else None
        return {"name": self.name, "kvm": host, "eoi_at_delivery_seen": self.eoi_at_delivery,
                "held_eoi_exits": [dict(h) for h in self.holds]}

    def cpuid_entries(self, x2apic: bool, base: list[abi.CpuidEntry2] | None = None) -> list[abi.CpuidEntry2]:
        """``base`` (default: what KVM supports), with the x2APIC bit as the step asks."""
        out = []
        for entry in base or self.cpuid:
            copy = abi.CpuidEntry2.from_buffer_copy(entry)
            if copy.function == 1:
                copy.ecx = (copy.ecx | CPUID_X2APIC) if x2apic else (copy.ecx & ~CPUID_X2APIC)
            out.append(copy)
        return out


def open_backend(path: str | None = None) -> KvmBackend:
    """The backend on ``path`` (default /dev/kvm); BadInput (exit 3) where it cannot run."""
    path = path or DEVICE
    try:
        return KvmBackend(path)
    except KvmUnavailable as err:
        raise BadInput(f"the kvm backend cannot run here: {err}", Location("--backend kvm")) from None


class _System:
    """The system fd as the runner sees it."""

    def __init__(self, backend: KvmBackend) -> None:
        self.backend = backend

    def check_extension_x2apic_api(self) -> int:
        return self.backend.system.check_extension(abi.KVM_CAP_X2APIC_API)


class KvmBench:
    """A real VM for register-level steps: ``kvm_vm``, ``vcpu`` and ``ioapic``."""

    def __init__(self, backend: KvmBackend, irqchip: str, ioapic: int, vcpu: bool,
                 scratch: bool = False) -> None:
        self.backend = backend
        # A scratch VM (a measurement behind a reading) keeps its held exits to itself.
        self.holds: list[dict[str, int | None]] = [] if scratch else backend.holds
        self.kvm = _System(backend)
        self.machine = GuestVm(backend.system)
        self.irqchip = "off"
        self.model = Ioapic(ioapic, sink=self._signal)
        self.kvm_vm = _VmView(self)
        self.ioapic = _IoapicView(self)
        self.vcpu: _VcpuView | None = None
        self.routes: list[tuple[int, int, int]] | None = None
        self.held: dict[int, list[int]] = {}  # vector -> indices in backend.holds, not yet handed
        self.accepted: deque[int] = deque()  # vectors taken, not yet EOIed by the guest
        self.in_window = False
        self.machine.mmio = self._mmio
        self.machine.eoi = self._eoi_exit
        self.create_result = 0
        if irqchip != "off":
            self.create_result = self.create_irqchip(irqchip)
        if vcpu:
            self.create_vcpu()

    # -- VM-level ioctls -----------------------------------------------------
    def create_irqchip(self, kind: str) -> int:
        vm = self.machine.vm
        if kind == "split":
            result = vm.enable_cap(abi.KVM_CAP_SPLIT_IRQCHIP, IOAPIC_PINS)
        else:
            result = vm.create_irqchip()
        if result == 0:
            self.irqchip = kind
            if kind == "split":
                self._sync_routes()
        return result

    def create_vcpu(self) -> int:
        result = self.machine.create_vcpu()
        if result == 0 and self.vcpu is None:
            self.vcpu = _VcpuView(self)
            self.vcpu.firmware_init()
        return result

    # -- userspace IOAPIC (split) --------------------------------------------
    def _signal(self, vector: int, level: bool) -> None:
        data = vector | (MSI_LEVEL | MSI_ASSERT if level else 0)
        self.machine.vm.signal_msi(MSI_ADDRESS, data)

    def _sync_routes(self) -> None:
        """The model's MSI routes of the reserved pins, as QEMU keeps them: a masked entry
        keeps the route it last had unmasked (ioapic_update_kvm_routes skips it)."""
        routes = []
        for pin, entry in enumerate(self.model.routes):
            data = (entry & RTE_VECTOR) | (MSI_LEVEL | MSI_ASSERT if entry & RTE_LEVEL else 0)
            routes.append((pin, MSI_ADDRESS, data))
        if routes != self.routes:
            self.machine.vm.set_msi_routes(routes)
            self.routes = routes

    def _mmio(self, address: int, length: int, data: bytes | None) -> int:
        offset = address - guest.IOAPIC_BASE
        if self.irqchip != "split" or not 0 <= offset < 0x100:
            raise GuestError(f"MMIO at {address:#x} with nothing behind it")
        if data is None:
            return self.model.mmio_read(offset)
        self.model.mmio_write(offset, int.from_bytes(data, "little"))
        self._sync_routes()
        return 0

    def _eoi_exit(self, vector: int) -> None:
        self.kvm_vm.eoi_exits += 1
        if self.in_window:
            self.held.setdefault(vector, []).append(len(self.holds))
            self.holds.append({"step": self.backend.step, "vector": vector, "handed_at": None})
        else:
            self.model.eoi_broadcast(vector)

    # -- guest programs ------------------------------------------------------
    def execute(self, program: guest.Program) -> RunLog:
        if self.vcpu is None:
            raise GuestError("no vCPU")
        return self.machine.execute(self.vcpu.prologue(program).done())

    def deliver(self) -> None:
        """The ``run`` step: the CPU accepts what is deliverable, one window at a time."""
        assert self.vcpu is not None
        vcpu = self.vcpu
        entered = False
        for _ in range(MAX_WINDOWS):
            if self._deliverable():
                entered = True
                self.in_window = True
                try:
                    log = self.execute(guest.Program().accept_interrupts(1))
                finally:
                    self.in_window = False
                for vector in log.taken:
                    vcpu.lapic.taken[vector] += 1
                    self.accepted.append(vector)
                    if not (vcpu.lapic.isr >> vector) & 1:
                        self.backend.eoi_at_delivery = True
                if log.taken:
                    continue
            if self.irqchip == "split" and self.model.delayed:
                self.model.fire_delayed()
                continue
            break
        if not entered:
            self.execute(guest.Program())  # the CPU runs even with nothing to accept

    def reset(self) -> None:
        """The ``reset`` step: the vCPU's RESET (firmware state again) and the IOAPIC's."""
        assert self.vcpu is not None
        self.vcpu.reset()
        self.ioapic.reset()

    def _deliverable(self) -> bool:
        # The CPU's priority check against what the guest has in service.
        lapic = self.vcpu.lapic if self.vcpu is not None else None
        if lapic is None:
            return False
        irr = lapic.irr
        if not irr:
            return False
        in_service = max(self.accepted, default=-1)
        in_service = max(in_service, _highest(lapic.isr))
        return in_service < 0 or (_highest(irr) >> 4) > (in_service >> 4)

    def guest_eoi(self) -> int:
        assert self.vcpu is not None
        real = _highest(self.vcpu.lapic.isr)
        vector = max(self.accepted, default=-1)
        if vector >= 0:
            self.accepted.remove(vector)
        self.execute(guest.Program().eoi(self.vcpu.x2apic_enabled()))
        if real < 0 and self.held.get(vector):
            # The kernel EOIed this vector at delivery; its exit reaches the IOAPIC now.
            self.holds[self.held[vector].pop(0)]["handed_at"] = self.backend.step
            self.model.eoi_broadcast(vector)
        return real if real >= 0 else vector

    # -- what the runner reads -----------------------------------------------
    def suppression_honored(self) -> bool:
        """Measured on a scratch VM in the same mode, with the LVR this guest sees."""
        if self.vcpu is None or self.irqchip == "off":
            return False
        return _probe_suppression(self.backend, self.irqchip, self.kvm_vm.mode, self.vcpu)

    def close(self) -> None:
        self.machine.close()


class _VmView:
    """The VM fd: capability checks, KVM_ENABLE_CAP, the mode it leads to, EOI exits."""

    def __init__(self, bench: KvmBench) -> None:
        self.bench = bench
        self.mode = MODE_QUIRKED
        self.eoi_exits = 0

    @property
    def irqchip(self) -> str:
        return self.bench.irqchip

    def check_extension_x2apic_api(self) -> int:
        return self.bench.machine.vm.check_extension(abi.KVM_CAP_X2APIC_API)

    def enable_cap_x2apic_api(self, flags: int) -> int:
        result = self.bench.machine.vm.enable_cap(abi.KVM_CAP_X2APIC_API, flags)
        if result == 0:
            if flags & abi.KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST:
                self.mode = MODE_ENABLED
            elif flags & abi.KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST:
                self.mode = MODE_DISABLED
        return result

    def seoib_flags(self) -> int:
        if self.mode == MODE_ENABLED:
            return abi.KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST
        if self.mode == MODE_DISABLED:
            return abi.KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST
        return 0


class _LapicView:
    """The vCPU's LAPIC registers, read with KVM_GET_LAPIC at each access."""

    def __init__(self, vcpu: _VcpuView) -> None:
        self.vcpu = vcpu
        self.taken = [0] * 256

    def _page(self) -> bytes | None:
        page = self.vcpu.page()
        return page if isinstance(page, bytes) else None

    def _read(self, offset: int) -> int:
        page = self._page()
        return _reg(page, offset) if page is not None else 0

    def _bits(self, base: int) -> int:
        page = self._page()
        return _bits256(page, base) if page is not None else 0

    @property
    def lvr(self) -> int:
        return self._read(LVR_OFFSET)

    @property
    def svr(self) -> int:
        page = self._page()
        return _reg(page, SVR_OFFSET) if page is not None else 0xFF

    @property
    def irr(self) -> int:
        return self._bits(IRR_OFFSET)

    @property
    def isr(self) -> int:
        return self._bits(ISR_OFFSET)

    @property
    def tmr(self) -> int:
        return self._bits(TMR_OFFSET)


class _VcpuView:
    """vCPU 0: CPUID, KVM_GET/SET_LAPIC, reset, and the guest's own register writes."""

    def __init__(self, bench: KvmBench) -> None:
        self.bench = bench
        self.lapic = _LapicView(self)
        self.cpuid_x2apic = False
        self.reset_page: bytes | None = None

    @property
    def fd(self) -> Any:
        vcpu = self.bench.machine.vcpu
        assert vcpu is not None
        return vcpu

    @property
    def in_kernel_lapic(self) -> bool:
        return self.bench.irqchip != "off"

    def page(self) -> bytes | int:
        return self.fd.get_lapic()

    def firmware_init(self) -> None:
        """Real mode, the APIC software-enabled (SVR bit 8) and LINT0 masked.

        KVM resets the BSP's LVT0 to ExtINT, so the in-kernel PIC (which sees GSIs
        0-15 too) would inject its own vectors; an OS in IOAPIC mode masks it. Done
        from the host (KVM_SET_LAPIC) so that the vCPU has not run yet: KVM refuses
        a different CPUID once it has.
        """
        self.bench.machine.set_real_mode()
        page = self.page()
        if not isinstance(page, bytes):
            return  # no in-kernel LAPIC
        page = _with_reg(page, SVR_OFFSET, _reg(page, SVR_OFFSET) | SVR_ENABLE)
        page = _with_reg(page, LVT0_OFFSET, _reg(page, LVT0_OFFSET) | LVT_MASKED)
        self.reset_page = page
        self.fd.set_lapic(page)

    def x2apic_enabled(self) -> bool:
        return bool(self.bench.machine.apic_base() & guest.APIC_BASE_EXTD)

    def prologue(self, program: guest.Program) -> guest.Program:
        """A guest whose CPUID offers x2APIC switches to it before anything else."""
        self._need_lapic()
        if self.cpuid_x2apic and not self.x2apic_enabled():
            first = guest.Program().enable_x2apic()
            first.code += program.code
            return first
        return program

    def _need_lapic(self) -> None:
        if not self.in_kernel_lapic:
            raise GuestError("guest-side steps need KVM's LAPIC (irqchip on or split)")

    # -- ioctls ------------------------------------------------------------------
    def enter(self) -> None:
        """The kernel itself knows when the vCPU has run."""

    def set_cpuid(self, x2apic: bool) -> int:
        base = self.fd.get_cpuid() or None  # empty until the first SET_CPUID2
        result = self.fd.set_cpuid(self.bench.backend.cpuid_entries(x2apic, base))
        if result == 0:
            self.cpuid_x2apic = x2apic
        return result

    def get_lapic(self) -> tuple[int, int, int, int] | int:
        """KVM_GET_LAPIC's registers, or its -errno (EINVAL without KVM's LAPIC)."""
        page = self.page()
        if not isinstance(page, bytes):
            return page
        lapic = self.lapic
        return (lapic.svr, lapic.irr, lapic.isr, lapic.tmr)

    def set_lapic(self, state: tuple[int, int, int, int]) -> int:
        """KVM_SET_LAPIC of the current page with SVR replaced (the step's only field)."""
        page = self.page()
        if not isinstance(page, bytes):
            return page
        return self.fd.set_lapic(_with_reg(page, SVR_OFFSET, state[0]))

    def reset(self) -> None:
        """RESET as QEMU puts it: APIC base and register page back to power-on values."""
        self.bench.machine.set_apic_base(APIC_BASE_RESET)
        self.bench.machine.set_real_mode()
        if self.reset_page is not None:
            self.fd.set_lapic(self.reset_page)
        self.bench.accepted.clear()
        self.bench.held.clear()

    # -- the guest -------------------------------------------------------------
    def guest_write_svr(self, value: int) -> None:
        self._need_lapic()
        self.bench.execute(guest.Program().write_svr(value, self.cpuid_x2apic))

    def guest_eoi(self, routed_levels: int) -> int:
        self._need_lapic()
        return self.bench.guest_eoi()


class _IoapicView:
    """The IOAPIC the guest sees: the model on split, KVM's own with ``irqchip: on``."""

    def __init__(self, bench: KvmBench) -> None:
        self.bench = bench

    @property
    def _kernel(self) -> bool:
        return self.bench.irqchip == "on"

    @property
    def version(self) -> int:
        return VERSION_82093AA if self._kernel else self.bench.model.version

    @property
    def level_vectors(self) -> int:
        return self.bench.model.level_vectors

    @property
    def delivered(self) -> list[int]:
        return self.bench.model.delivered

    @property
    def delayed(self) -> int:
        return 0 if self._kernel else self.bench.model.delayed

    def fire_delayed(self) -> None:
        self.bench.model.fire_delayed()

    def read_version(self) -> int:
        if not self._kernel:
            return self.bench.model.read_version()
        # Read by a guest, on a scratch VM: this one's vCPU must not run for an expectation.
        scratch = KvmBench(self.bench.backend, "on", VERSION_82093AA, vcpu=True, scratch=True)
        try:
            return scratch.execute(guest.Program().ioapic_read(0x01)).values[-1]
        finally:
            scratch.close()

    def remote_irr(self, pin: int) -> int:
        if not self._kernel:
            return self.bench.model.remote_irr(pin)
        entry = self.bench.machine.vm.get_ioapic().redirtbl[pin]
        return int(bool(entry & RTE_REMOTE_IRR))

    def write_rte(self, pin: int, value: int) -> None:
        if self.bench.vcpu is None and self._kernel:
            # No vCPU to write it: userspace sets the kernel's IOAPIC state instead.
            self.bench.machine.vm.write_ioapic_entry(pin, value, RTE_RO, RTE_REMOTE_IRR)
            return
        if self.bench.vcpu is None:
            self.bench.model.write_rte(pin, value)
            if self.bench.irqchip == "split":
                self.bench._sync_routes()
            return
        self.bench.execute(guest.Program().write_rte(pin, value))

    def set_line(self, pin: int, level: int) -> None:
        if self._kernel:
            self.bench.machine.vm.irq_line(pin, level)
        else:
            self.bench.model.set_line(pin, level)

    def mmio_write(self, offset: int, value: int) -> None:
        if offset != EOIR_OFFSET:
            raise GuestError(f"IOAPIC offset {offset:#x} is not a step")
        self.bench.execute(guest.Program().eoir(value))

    def reset(self) -> None:
        if self._kernel:
            self.bench.machine.vm.reset_ioapic(RTE_MASK)
        else:
            self.bench.model.reset()
            self.bench._sync_routes()


def _probe_suppression(backend: KvmBackend, irqchip: str, mode: str, vcpu: _VcpuView) -> bool:
    """Would the guest's SVR bit 12 keep a level EOI from the IOAPIC? Asked of the kernel.

    A scratch VM in ``mode`` whose LVR bit 24 equals the one this guest sees (the
    CPUID is set under the mode that gave it, then the mode is switched, which KVM
    does not recompute LVR for), a level route, SVR bit 12 written by the guest, one
    interrupt, the line low, the EOI: suppressed iff Remote IRR is still set.
    """
    lvr24 = bool(vcpu.lapic.lvr & LVR_SEOIB)
    scratch = KvmBench(backend, irqchip, 0x20, vcpu=True, scratch=True)
    try:
        vm = scratch.kvm_vm
        flag = {
            MODE_ENABLED: abi.KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST,
            MODE_DISABLED: abi.KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST,
        }
        advertised = {MODE_QUIRKED: irqchip == "split", MODE_ENABLED: True, MODE_DISABLED: False}
        before = mode
        if irqchip == "split" and vcpu.cpuid_x2apic and advertised[mode] != lvr24:
            before = MODE_ENABLED if lvr24 else MODE_DISABLED  # the mode the CPUID was set under
        if before != MODE_QUIRKED:
            vm.enable_cap_x2apic_api(flag[before])
        assert scratch.vcpu is not None
        scratch.vcpu.set_cpuid(vcpu.cpuid_x2apic)
        if mode != before and mode != MODE_QUIRKED:
            vm.enable_cap_x2apic_api(flag[mode])
        if bool(scratch.vcpu.lapic.lvr & LVR_SEOIB) != lvr24 or vm.mode != mode:
            return False  # not reproducible on this kernel: no claim of suppression
        scratch.vcpu.guest_write_svr(0x1FF | SVR_SEOIB)
        if not scratch.vcpu.lapic.svr & SVR_SEOIB:
            return False
        scratch.ioapic.write_rte(PROBE_PIN, PROBE_VECTOR | RTE_LEVEL)
        scratch.ioapic.set_line(PROBE_PIN, 1)
        scratch.ioapic.set_line(PROBE_PIN, 0)  # serviced before acceptance: no re-delivery
        scratch.deliver()
        scratch.guest_eoi()
        return scratch.ioapic.remote_irr(PROBE_PIN) == 1  # no EOI reached the IOAPIC
    finally:
        scratch.close()


PROBE_PIN, PROBE_VECTOR = 2, 0x70
