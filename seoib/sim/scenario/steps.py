"""The scenario steps as a table: name -> StepDef(parse, run, level, usage, doc).

A step is written as a bare name (when ``bare``) or as a one-key mapping
``{name: argument}`` (when it has a ``parse``). ``parse`` validates the argument
before anything runs, ``run`` executes it on a :class:`RunState`, ``events`` counts
the device events it asks for (the event budget), and ``level``, ``usage`` and
``doc`` are what ``seoib simulate --help`` and the command's reference print. A new
step is one entry here; the table's order is the order the help lists the steps in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from seoib.errors import BadInput, Location
from seoib.yamlio import line_of

from ..config import SimVM
from ..ioapic import EOIR_OFFSET, IOAPIC_PINS, rte
from ..kvm import IRQCHIP_NONE
from ..session import Session
from .backend import accept_pending
from .context import ParseContext, RunState
from .expect import check_expectations, parse_expect
from .records import ScenarioStep
from .values import as_bool, as_choice, as_int, as_ioapic_version, as_irqchip, as_mapping, sub_loc

__all__ = ["EVENT_BUDGET", "LEVELS", "STEPS", "STEP_NAMES", "StepDef", "parse_step"]

# Device events one scenario may simulate in all (irqs steps, times guest copies):
# about 4 s of a storming guest at the simulator's ~25,000 events/s.
EVENT_BUDGET = 100_000

Parse = Callable[[Any, Location, ParseContext], Any]
Run = Callable[[RunState, ScenarioStep], None]


@dataclass(frozen=True)
class StepDef:
    """One step: how its argument is checked and what it does."""

    run: Run
    level: str  # a key of LEVELS
    usage: str  # how the help writes it
    doc: str  # what it does, for the reference
    parse: Parse | None = None  # None: the step takes no argument
    bare: bool = False  # may be written without an argument (``parse`` then gets nothing)
    events: Callable[[Any], int] | None = None  # device events the parsed argument asks for
    at_step_line: bool = False  # errors point at the step's line rather than the argument's
    guest: bool = False  # the guest executes it: a KVM_RUN of each target's vCPU (after which
    # SET_CPUID2 refuses a change); the kvm backend needs KVM's LAPIC for it


LEVELS = {
    "session": "high level: a QEMU process with its SEOIB design, booted with boot",
    "register": (
        "register level: ioctls and registers on a bare VM (create_vm) or, after boot, on the "
        "booted VM (every guest copy when the guest is any; values are read from the first)"
    ),
    "check": "checks (the run goes on when one fails; the exit code says it)",
}


# -- high level ---------------------------------------------------------------
def _host_spec(arg: Any, loc: Location, ctx: ParseContext) -> Any:
    return ctx.specs.host(arg, loc)


def _boot(run: RunState, step: ScenarioStep) -> None:
    if run.session is None:
        run.session = Session(step.arg or run.host, run.vm, assume=run.assume)
    run.session.boot(step.arg)
    run.bench = None
    run.targets = list(run.session.machines)


def _irqs(run: RunState, step: ScenarioStep) -> None:
    run.booted(step).irqs(step.arg)


def _migrate(run: RunState, step: ScenarioStep) -> None:
    s = run.booted(step)
    s.migrate(step.arg)
    run.targets = list(s.machines)


def _savevm(run: RunState, step: ScenarioStep) -> None:
    s = run.booted(step)
    if not s.running:
        raise BadInput("savevm: no VM is running", step.loc)
    run.snaps = s.savevm()


def _loadvm(run: RunState, step: ScenarioStep) -> None:
    s = run.booted(step)
    if run.snaps is None:
        raise BadInput("loadvm: no savevm before it", step.loc)
    s.loadvm(run.snaps)
    run.targets = list(s.machines)


def _reset(run: RunState, step: ScenarioStep) -> None:
    if run.bench is not None:
        run.target(step)
        run.bench.reset()
        return
    run.booted(step).reset()


# -- register level: parsers --------------------------------------------------
def _create_vm_arg(arg: Any, aloc: Location, ctx: ParseContext) -> dict[str, Any]:
    if isinstance(arg, (str, bool)):
        arg = {"irqchip": arg}
    m = as_mapping(arg, "create_vm", ("irqchip", "ioapic", "vcpu"), ("irqchip",), aloc)
    # Without its own ioapic the bare VM has the scenario VM's; a different one is a conflict.
    ioapic = ctx.vm.ioapic if ctx.vm is not None else SimVM.ioapic
    if "ioapic" in m:
        given = as_ioapic_version(m["ioapic"], "ioapic", sub_loc(arg, "ioapic", aloc))
        if ctx.vm is not None and given != ioapic:
            raise BadInput(f"create_vm: ioapic {given:#x} contradicts the scenario's vm "
                           f"ioapic {ioapic:#x}", sub_loc(arg, "ioapic", aloc))
        ioapic = given
    return {
        "irqchip": as_irqchip(m["irqchip"], sub_loc(arg, "irqchip", aloc)),
        "ioapic": ioapic,
        "vcpu": as_bool(m.get("vcpu", True), "vcpu", sub_loc(arg, "vcpu", aloc)),
    }


def _irqchip_arg(arg: Any, aloc: Location, ctx: ParseContext) -> str:
    parsed = as_irqchip(arg, aloc)
    if parsed == IRQCHIP_NONE:
        raise BadInput("create_irqchip: use on or split", aloc)
    return parsed


def _fd_arg(arg: Any, aloc: Location, ctx: ParseContext) -> str:
    if isinstance(arg, str):
        arg = {"fd": arg}
    m = as_mapping(arg, "check_extension", ("fd",), ("fd",), aloc)
    return as_choice(m["fd"], "fd", ("system", "vm"), sub_loc(arg, "fd", aloc))


def _u32(what: str) -> Parse:
    return lambda arg, aloc, ctx: as_int(arg, what, aloc, 0, 0xFFFFFFFF)


def _cpuid_arg(arg: Any, aloc: Location, ctx: ParseContext) -> bool:
    m = as_mapping(arg, "set_cpuid", ("x2apic",), ("x2apic",), aloc)
    return as_bool(m["x2apic"], "x2apic", sub_loc(arg, "x2apic", aloc))


def _lapic_arg(arg: Any, aloc: Location, ctx: ParseContext) -> int:
    m = as_mapping(arg, "set_lapic", ("svr",), ("svr",), aloc)
    return as_int(m["svr"], "svr", sub_loc(arg, "svr", aloc), 0, 0xFFFFFFFF)


def _rte_arg(arg: Any, aloc: Location, ctx: ParseContext) -> dict[str, Any]:
    m = as_mapping(arg, "rte", ("pin", "vector", "trigger", "mask"), ("pin", "vector"), aloc)
    trigger = as_choice(m.get("trigger", "edge"), "trigger", ("level", "edge"), sub_loc(arg, "trigger", aloc))
    return {
        "pin": as_int(m["pin"], "pin", sub_loc(arg, "pin", aloc), 0, IOAPIC_PINS - 1),
        "vector": as_int(m["vector"], "vector", sub_loc(arg, "vector", aloc), 0x10, 0xFF),
        "level": trigger == "level",
        "mask": as_bool(m.get("mask", False), "mask", sub_loc(arg, "mask", aloc)),
    }


def _line_arg(arg: Any, aloc: Location, ctx: ParseContext) -> tuple[int, int]:
    m = as_mapping(arg, "line", ("pin", "level"), ("pin", "level"), aloc)
    return (
        as_int(m["pin"], "pin", sub_loc(arg, "pin", aloc), 0, IOAPIC_PINS - 1),
        as_int(m["level"], "level", sub_loc(arg, "level", aloc), 0, 1),
    )


# -- register level: execution ------------------------------------------------
def _create_vm(run: RunState, step: ScenarioStep) -> None:
    a = step.arg
    run.bench = run.backend.bench(run.host, a["irqchip"], a["ioapic"], a["vcpu"])
    run.last_result = run.bench.create_result
    run.targets = [run.bench]


def _create_irqchip(run: RunState, step: ScenarioStep) -> None:
    if run.bench is None:
        raise BadInput("create_irqchip: needs create_vm first", step.loc)
    run.last_result = run.bench.create_irqchip(step.arg)


def _create_vcpu(run: RunState, step: ScenarioStep) -> None:
    if run.bench is None:
        raise BadInput("create_vcpu: needs create_vm first", step.loc)
    run.last_result = run.bench.create_vcpu()


def _check_extension(run: RunState, step: ScenarioStep) -> None:
    if step.arg == "system":
        kvm = run.bench.kvm if run.bench is not None else run.backend.system_kvm(run.host)
        run.last_result = kvm.check_extension_x2apic_api()
    else:
        run.last_result = run.target(step, need_vcpu=False).kvm_vm.check_extension_x2apic_api()


def _enable_cap(run: RunState, step: ScenarioStep) -> None:
    run.target(step, need_vcpu=False)
    results = [t.kvm_vm.enable_cap_x2apic_api(step.arg) for t in run.targets]
    run.last_result = results[0]


def _set_cpuid(run: RunState, step: ScenarioStep) -> None:
    run.target(step)
    results = [t.vcpu.set_cpuid(step.arg) for t in run.targets]
    run.last_result = results[0]


def _guest_write_svr(run: RunState, step: ScenarioStep) -> None:
    run.target(step)
    for t in run.targets:
        t.vcpu.guest_write_svr(step.arg)
    run.last_result = 0


def _set_lapic(run: RunState, step: ScenarioStep) -> None:
    run.target(step)
    results = []
    for t in run.targets:
        state = t.vcpu.get_lapic()
        if isinstance(state, int):  # no in-kernel LAPIC: KVM_GET_LAPIC is EINVAL already
            results.append(state)
            continue
        _, irr, isr, tmr = state
        results.append(t.vcpu.set_lapic((step.arg, irr, isr, tmr)))
    run.last_result = results[0]


def _rte(run: RunState, step: ScenarioStep) -> None:
    run.target(step, need_vcpu=False)
    a = step.arg
    for t in run.targets:
        t.ioapic.write_rte(a["pin"], rte(a["vector"], a["level"], a["mask"]))


def _line(run: RunState, step: ScenarioStep) -> None:
    run.target(step, need_vcpu=False)
    pin, level = step.arg
    for t in run.targets:
        t.ioapic.set_line(pin, level)


def _run(run: RunState, step: ScenarioStep) -> None:
    run.target(step)
    if run.bench is not None and run.targets == [run.bench]:
        run.bench.deliver()
        return
    for t in run.targets:
        accept_pending(t.vcpu.lapic, t.ioapic)


def _guest_eoi(run: RunState, step: ScenarioStep) -> None:
    run.target(step)
    results = [t.vcpu.guest_eoi(t.ioapic.level_vectors) for t in run.targets]
    run.last_result = results[0]


def _guest_eoir(run: RunState, step: ScenarioStep) -> None:
    run.target(step, need_vcpu=False)
    for t in run.targets:
        t.ioapic.mmio_write(EOIR_OFFSET, step.arg)


STEPS: dict[str, StepDef] = {
    "boot": StepDef(_boot, "session", "boot [: <host>]", "cold power-on (on another host if given)",
                    parse=_host_spec, bare=True),
    "irqs": StepDef(_irqs, "session", "irqs: N",
                    "N level-triggered device events serviced the guest's way. The device sits on "
                    "IOAPIC pin 10 with vector 0x61; with guest ``any`` every known guest runs its "
                    "own copy and the verdict is the worst case",
                    parse=lambda arg, aloc, ctx: as_int(arg, "irqs", aloc, 0, EVENT_BUDGET),
                    events=lambda n: n),
    "migrate": StepDef(_migrate, "session", "migrate: <host>", "live migration to the given host spec",
                       parse=_host_spec),
    "savevm": StepDef(_savevm, "session", "savevm", "snapshot of the running VM", bare=True),
    "loadvm": StepDef(_loadvm, "session",
                      "loadvm (QMP restore of the last savevm into the running VM)",
                      "QMP-style restore of the last savevm into the running VM", bare=True),
    "reset": StepDef(_reset, "session", "reset",
                     "system_reset (on a bare VM: the vCPU's and the IOAPIC's reset)", bare=True),
    "create_vm": StepDef(_create_vm, "register", "create_vm: {irqchip}",
                         "a bare VM, no QEMU policy: {irqchip: on|split|off, ioapic: 0x20, vcpu: true} "
                         "(ioapic defaults to the scenario VM's); the vCPU starts with an empty CPUID",
                         parse=_create_vm_arg),
    "create_irqchip": StepDef(_create_irqchip, "register", "create_irqchip",
                              "on|split: the in-kernel or the split irqchip for the bare VM",
                              parse=_irqchip_arg),
    "create_vcpu": StepDef(_create_vcpu, "register", "create_vcpu", "KVM_CREATE_VCPU", bare=True),
    "check_extension": StepDef(_check_extension, "register", "check_extension: {fd: system|vm}",
                               "KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) on the system or the VM fd: "
                               "{fd: system|vm}",
                               parse=_fd_arg),
    "enable_cap": StepDef(_enable_cap, "register", "enable_cap: <mask>",
                          "KVM_ENABLE_CAP(KVM_CAP_X2APIC_API) with an x2apic-api mask",
                          parse=_u32("enable_cap mask")),
    "set_cpuid": StepDef(_set_cpuid, "register", "set_cpuid: {x2apic}",
                         "KVM_SET_CPUID2 with the x2APIC bit set or clear: {x2apic: bool}; once the guest "
                         "ran (any guest-side step), EINVAL unless unchanged, LVR left alone",
                         parse=_cpuid_arg),
    "guest_write_svr": StepDef(_guest_write_svr, "register", "guest_write_svr: <v>",
                               "the guest writes the value to the spurious-vector register (SVR)",
                               parse=_u32("guest_write_svr value"), guest=True),
    "set_lapic": StepDef(_set_lapic, "register", "set_lapic: {svr: <v>}",
                         "KVM_SET_LAPIC with the SVR replaced: {svr: <value>}; EINVAL, nothing set, "
                         "on a VM without KVM's LAPIC (irqchip off)", parse=_lapic_arg),
    "rte": StepDef(_rte, "register", "rte: {pin, vector, trigger, mask}",
                   "writes a redirection entry (trigger: level|edge, default edge; mask: bool)",
                   parse=_rte_arg, guest=True),
    "line": StepDef(_line, "register", "line: {pin, level}", "sets an IOAPIC input line: {pin, level: 0|1}",
                    parse=_line_arg),
    "run": StepDef(_run, "register", "run",
                   "the CPU accepts what is pending, IRR -> ISR, no handler", bare=True, guest=True),
    "guest_eoi": StepDef(_guest_eoi, "register", "guest_eoi", "the guest's LAPIC EOI", bare=True,
                         guest=True),
    "guest_eoir": StepDef(_guest_eoir, "register", "guest_eoir: <vector>",
                          "the guest writes the vector to the IOAPIC's EOI register",
                          parse=lambda arg, aloc, ctx: as_int(arg, "guest_eoir vector", aloc, 0, 0xFF),
                          guest=True),
    "expect": StepDef(check_expectations, "check", "expect: {...}",
                      "compares each key (below) with what the scenario built",
                      parse=lambda arg, aloc, ctx: parse_expect(arg, aloc), at_step_line=True),
}
STEP_NAMES = tuple(STEPS)


def parse_step(raw: Any, index: int, loc: Location, ctx: ParseContext) -> ScenarioStep:
    """A step as written (a bare name or ``{name: argument}``) into a validated ScenarioStep."""
    if isinstance(raw, str):
        entry = STEPS.get(raw)
        if entry is None or not entry.bare:
            hint = " (it needs an argument)" if entry is not None else ""
            raise BadInput(f"unknown step {raw!r}{hint}; steps: {', '.join(STEPS)}", loc)
        return ScenarioStep(index, raw, None, loc)
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise BadInput(f"a step is a name or a one-key mapping {{name: argument}}, got {raw!r}", loc)
    ((name, arg),) = raw.items()
    entry = STEPS.get(name) if isinstance(name, str) else None
    if entry is None or entry.parse is None:
        hint = " (it takes no argument)" if entry is not None else ""
        raise BadInput(f"unknown step {name!r}{hint}; steps: {', '.join(STEPS)}", loc)
    aloc = Location(loc.source, line_of(arg, None, line_of(raw, name, loc.line)))
    return ScenarioStep(index, name, entry.parse(arg, aloc, ctx), loc if entry.at_step_line else aloc)

