"""Simulator scenarios: a YAML file of ``host``, ``vm`` and ``steps`` with expectations.

The whole file is validated before anything runs, so an invalid scenario fails with
``file:line`` and nothing half-executed. Host and VM specs are mechanistic mappings
(or ``k=v,k=v`` strings); rule-level specs (``kernel=``, ``qemu=``) go through the
optional resolver hooks the CLI passes in. See ``engine.commands.simulate`` for the
user-facing description of steps and expect keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.errors import BadInput, Location, SpecError
from engine.yamlio import line_of, load_yaml

from .config import DESIGNS, GUESTS, KNOWN_GUESTS, SEOIB_POLICIES, SimHost, SimVM
from .ioapic import EOIR_OFFSET, IOAPIC_PINS, Ioapic, rte
from .kvm import IRQCHIP_KERNEL, IRQCHIP_NONE, Kvm, KvmVcpu, KvmVm, errno_name
from .lapic import LVR_SEOIB, SVR_SEOIB
from .outcome import BOOT_OUTCOMES, MIGRATION_OUTCOMES, POLICY_OF_MODE, VMState
from .qemu import Snapshot, probe_suppression
from .session import Session

__all__ = [
    "EXPECT_KEYS",
    "HOST_KEYS",
    "SIM_BACKEND",
    "STEP_NAMES",
    "VM_KEYS",
    "Backend",
    "Expectation",
    "HostResolver",
    "ScenarioResult",
    "VmResolver",
    "load_scenario",
    "parse_host",
    "parse_vm",
    "run_scenario",
]

HostResolver = Callable[[Any, Location], SimHost]
VmResolver = Callable[[Any, SimHost, Location], SimVM]

HOST_KEYS = ("name", "x2apic-api", "split-irqchip", "seoib", "qemu-version", "machines")
VM_KEYS = (
    "machine",
    "machine-version",
    "irqchip",
    "ioapic",
    "ioapic-global",
    "x2apic",
    "guest",
    "seoib-policy",
)
TOP_KEYS = ("name", "description", "host", "vm", "steps")

BARE_STEPS = ("boot", "savevm", "loadvm", "reset", "run", "guest_eoi", "create_vcpu")
ARG_STEPS = (
    "boot",
    "irqs",
    "migrate",
    "create_vm",
    "create_irqchip",
    "check_extension",
    "enable_cap",
    "set_cpuid",
    "guest_write_svr",
    "set_lapic",
    "rte",
    "line",
    "guest_eoir",
    "expect",
)
STEP_NAMES = tuple(dict.fromkeys((*BARE_STEPS, *ARG_STEPS)))

EXPECT_KEYS = (
    "outcome",
    "findings",
    "policy",
    "kvm_mode",
    "kvm_flags",
    "suppression_honored",
    "running",
    "lvr_bit24",
    "svr_bit12",
    "last_result",
    "ioapic_version",
    "remote_irr",
    "irr",
    "isr",
    "tmr",
    "deliveries",
    "interrupts",
    "eoi_exits",
    "storms",
    "stuck_events",
    "counters",
)
KVM_MODES = ("QUIRKED", "ENABLED", "DISABLED")
_TRUE = ("on", "yes", "true", "1")
_FALSE = ("off", "no", "false", "0")
# Device events one scenario may simulate in all (irqs steps, times guest copies):
# about 4 s of a storming guest at the simulator's ~25,000 events/s.
EVENT_BUDGET = 100_000
_VERSION_SUFFIX = re.compile(r"-(\d+(?:\.\d+)*)$")


# -- small value parsers, each naming the location on failure ---------------
def _fail(message: str, loc: Location) -> BadInput:
    return BadInput(message, loc)


def _int(value: Any, what: str, loc: Location, lo: int = 0, hi: int | None = None) -> int:
    if isinstance(value, bool):
        raise _fail(f"{what} must be an integer, got {value!r}", loc)
    if isinstance(value, str):
        try:
            if not value.isascii():  # int() would read Arabic-Indic or full-width digits
                raise ValueError(value)
            value = int(value.strip(), 0)
        except ValueError:
            raise _fail(f"{what} must be an integer, got {value!r}", loc) from None
    if not isinstance(value, int):
        raise _fail(f"{what} must be an integer, got {type(value).__name__} {value!r}", loc)
    if value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise _fail(f"{what} must be in {bound}, got {value}", loc)
    return value


def _bool(value: Any, what: str, loc: Location) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise _fail(f"{what} must be a boolean (on/off, true/false), got {value!r}", loc)


def _choice(value: Any, what: str, choices: tuple[str, ...], loc: Location) -> str:
    if isinstance(value, str) and value in choices:
        return value
    raise _fail(f"{what} must be one of {', '.join(choices)}; got {value!r}", loc)


def _version(value: Any, what: str, loc: Location) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, float):
        # YAML reads an unquoted N.10 as the float N.1: refuse rather than guess.
        raise _fail(f"{what}: write the version as a string, e.g. '{value}'", loc)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,9})*", value.strip()):
        return tuple(int(p) for p in value.strip().split("."))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in value)
    ):
        return tuple(value)
    raise _fail(f"{what} must be a dotted version string, got {value!r}", loc)


def _irqchip(value: Any, loc: Location) -> str:
    # YAML reads bare on/off as booleans.
    if value is True:
        return "on"
    if value is False:
        return "off"
    return _choice(value, "irqchip", ("on", "split", "off"), loc)


def _ioapic_version(value: Any, what: str, loc: Location) -> int:
    version = _int(value, what, loc)
    if version not in (0x11, 0x20):
        raise _fail(f"{what} must be 0x11 or 0x20, got {version:#x}", loc)
    return version


# -- specs -------------------------------------------------------------------
def _spec_items(spec: Any, what: str, loc: Location) -> list[tuple[str, Any, Location]]:
    """(key, value, location) from a mapping or a ``k=v,k=v`` string."""
    if isinstance(spec, Mapping):
        out = []
        for key, value in spec.items():
            if not isinstance(key, str):
                raise SpecError(f"{what} keys must be strings, got {key!r}", loc)
            kloc = Location(loc.source, line_of(spec, key, loc.line))
            out.append((key, value, kloc))
        return out
    if isinstance(spec, str):
        out = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise SpecError(f"{what}: expected key=value, got {part!r}", loc)
            out.append((key.strip(), value.strip(), loc))
        return out
    raise SpecError(f"{what} must be a mapping or a 'key=value,...' string, got {spec!r}", loc)


def parse_host(spec: Any, loc: Location) -> SimHost:
    """A mechanistic host spec (keys ``HOST_KEYS``) into a SimHost."""
    kw: dict[str, Any] = {}
    for key, value, kloc in _spec_items(spec, "host", loc):
        if key == "name":
            kw["name"] = str(value)
        elif key == "x2apic-api":
            kw["x2apic_api"] = _int(value, "x2apic-api", kloc, 0, 0xF)
        elif key == "split-irqchip":
            kw["split_irqchip"] = _bool(value, "split-irqchip", kloc)
        elif key == "seoib":
            kw["seoib"] = _choice(value, "seoib", DESIGNS, kloc)
        elif key == "qemu-version":
            if not isinstance(value, str) or not re.match(r"^[0-9]{1,9}\.[0-9]{1,9}", value):
                raise SpecError(f"qemu-version must be quoted, e.g. '11.0.0', got {value!r}", kloc)
            kw["qemu_version"] = value
        elif key == "machines":
            if value is None:
                kw["machines"] = None
            elif isinstance(value, str):
                kw["machines"] = frozenset(p.strip() for p in value.split("+") if p.strip())
            elif isinstance(value, list) and all(isinstance(p, str) for p in value):
                kw["machines"] = frozenset(value)
            else:
                raise SpecError(f"machines must be a list of machine type names, got {value!r}", kloc)
        else:
            hint = "; rule-level specs need the CLI's resolver" if key in ("kernel", "qemu") else ""
            raise SpecError(f"unknown host key {key!r} (known: {', '.join(HOST_KEYS)}){hint}", kloc)
    return SimHost(**kw)


def parse_vm(spec: Any, loc: Location) -> SimVM:
    """A mechanistic VM spec (keys ``VM_KEYS``) into a SimVM."""
    kw: dict[str, Any] = {}
    version_given = ioapic_global = False
    for key, value, kloc in _spec_items(spec, "vm", loc):
        if key == "machine":
            if not isinstance(value, str) or not value:
                raise SpecError(f"machine must be a machine type name, got {value!r}", kloc)
            kw["machine"] = value
        elif key == "machine-version":
            kw["machine_version"] = _version(value, "machine-version", kloc)
            version_given = True
        elif key == "irqchip":
            kw["irqchip"] = _irqchip(value, kloc)
        elif key == "ioapic":
            kw["ioapic"] = _ioapic_version(value, "ioapic", kloc)
        elif key == "ioapic-global":
            ioapic_global = _bool(value, "ioapic-global", kloc)
        elif key == "x2apic":
            kw["x2apic"] = _bool(value, "x2apic", kloc)
        elif key == "guest":
            kw["guest"] = _choice(value, "guest", GUESTS, kloc)
        elif key == "seoib-policy":
            kw["seoib_policy"] = _choice(value, "seoib-policy", SEOIB_POLICIES, kloc)
        else:
            raise SpecError(f"unknown vm key {key!r} (known: {', '.join(VM_KEYS)})", kloc)
    if not version_given:
        # A versioned type carries its version in its name; microvm has none.
        match = _VERSION_SUFFIX.search(kw.get("machine", SimVM.machine))
        kw["machine_version"] = tuple(int(p) for p in match.group(1).split(".")) if match else None
    if ioapic_global:  # the version was given as -global ioapic.version=
        kw["globals"] = (("ioapic.version", hex(kw.get("ioapic", SimVM.ioapic))),)
    return SimVM(**kw)


def _keys_of(spec: Any) -> set[str]:
    if isinstance(spec, Mapping):
        return {str(k) for k in spec}
    if isinstance(spec, str):
        return {p.partition("=")[0].strip() for p in spec.split(",") if p.strip()}
    return set()


class _Specs:
    """Decides per spec: mechanistic keys only -> parse here; otherwise the resolver."""

    def __init__(self, host_resolver: HostResolver | None, vm_resolver: VmResolver | None) -> None:
        self.host_resolver = host_resolver
        self.vm_resolver = vm_resolver
        self.rule_level = False

    def host(self, spec: Any, loc: Location) -> SimHost:
        keys = _keys_of(spec)
        if keys <= set(HOST_KEYS) or self.host_resolver is None:
            return _wrap(parse_host, spec, loc)
        self.rule_level = True
        return self.host_resolver(spec, loc)

    def vm(self, spec: Any, host: SimHost, loc: Location) -> SimVM:
        # A rule-level scenario gets the rules' machine-type defaults for its VM too.
        if self.rule_level and self.vm_resolver is not None:
            return self.vm_resolver(spec, host, loc)
        return _wrap(parse_vm, spec, loc)


def _wrap(fn: Callable[[Any, Location], Any], spec: Any, loc: Location) -> Any:
    try:
        return fn(spec, loc)
    except ValueError as exc:  # a dataclass invariant the key parsers did not catch
        raise SpecError(str(exc), loc) from None


# -- steps -------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One validated step."""

    index: int
    name: str
    arg: Any
    loc: Location


@dataclass(frozen=True)
class Expectation:
    """One checked expectation."""

    step: int
    line: int | None
    key: str
    expected: Any
    actual: Any
    passed: bool


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

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return all(e.passed for e in self.expectations)


def _sub(arg: Any, key: str, loc: Location) -> Location:
    return Location(loc.source, line_of(arg, key, loc.line))


def _mapping(arg: Any, name: str, keys: tuple[str, ...], required: tuple[str, ...], loc: Location) -> dict:
    if not isinstance(arg, Mapping):
        raise BadInput(f"{name}: expected a mapping with {', '.join(keys)}, got {arg!r}", loc)
    for key in arg:
        if key not in keys:
            raise BadInput(f"{name}: unknown key {key!r} (known: {', '.join(keys)})", _sub(arg, key, loc))
    for key in required:
        if key not in arg:
            raise BadInput(f"{name}: missing {key!r}", loc)
    return dict(arg)


def _bit_map(arg: Any, what: str, loc: Location, hi: int, values: tuple[int, int] | None) -> dict[int, int]:
    """``{index: value}`` with index in 0..hi and value 0/1 (``values``) or a count."""
    if not isinstance(arg, Mapping) or not arg:
        raise BadInput(f"{what}: expected a mapping such as {{0x61: 1}}, got {arg!r}", loc)
    out = {}
    for key, value in arg.items():
        kloc = _sub(arg, key, loc)
        index = _int(key, f"{what} key", kloc, 0, hi)
        if isinstance(value, bool) and values is not None:
            value = int(value)
        out[index] = _int(value, f"{what}[{key}]", kloc, 0, 1 if values is not None else None)
    return out


def _parse_expect(arg: Any, loc: Location) -> list[tuple[str, Any, Location]]:
    if not isinstance(arg, Mapping) or not arg:
        raise BadInput(f"expect: expected a mapping of {', '.join(EXPECT_KEYS)}", loc)
    out: list[tuple[str, Any, Location]] = []
    for key, value in arg.items():
        kloc = _sub(arg, key, loc)
        if key == "outcome":
            value = _choice(
                value, "outcome", tuple(dict.fromkeys((*BOOT_OUTCOMES, *MIGRATION_OUTCOMES))), kloc
            )
        elif key == "findings":
            if not isinstance(value, list) or not all(v in MIGRATION_OUTCOMES for v in value):
                raise BadInput(f"findings must be a list of {', '.join(MIGRATION_OUTCOMES)}", kloc)
            value = list(value)
        elif key == "policy":
            value = _choice(value, "policy", (*SEOIB_POLICIES, "n/a"), kloc)
        elif key == "kvm_mode":
            value = _choice(value, "kvm_mode", KVM_MODES, kloc)
        elif key in ("suppression_honored", "running"):
            value = _bool(value, key, kloc)
        elif key in ("lvr_bit24", "svr_bit12"):
            value = int(_bool(value, key, kloc))
        elif key in ("kvm_flags", "eoi_exits", "storms", "stuck_events", "ioapic_version"):
            value = _int(value, key, kloc)
        elif key == "last_result":
            if isinstance(value, str) and value in ("ok", "EINVAL", "EEXIST"):
                pass
            else:
                value = _int(value, "last_result", kloc)
        elif key == "remote_irr":
            value = _bit_map(value, key, kloc, IOAPIC_PINS - 1, (0, 1))
        elif key in ("irr", "isr", "tmr"):
            value = _bit_map(value, key, kloc, 255, (0, 1))
        elif key == "deliveries":
            value = _bit_map(value, key, kloc, IOAPIC_PINS - 1, None)
        elif key == "interrupts":
            value = _bit_map(value, key, kloc, 255, None)
        elif key == "counters":
            if not isinstance(value, Mapping) or not value:
                raise BadInput("counters: expected a mapping of counter names to counts", kloc)
            value = {str(k): _int(v, f"counters[{k}]", _sub(value, k, kloc)) for k, v in value.items()}
        else:
            raise BadInput(f"unknown expect key {key!r} (known: {', '.join(EXPECT_KEYS)})", kloc)
        out.append((key, value, kloc))
    return out


def _check_event_budget(steps: list[Step], vm: SimVM) -> None:
    """Refuse, before running, a scenario whose irqs steps add up past EVENT_BUDGET.

    With guest ``any`` every known guest services each event, so copies count too.
    """
    copies = len(KNOWN_GUESTS) if vm.guest == "any" else 1
    total = 0
    for step in steps:
        if step.name == "irqs":
            total += step.arg * copies
            if total > EVENT_BUDGET:
                raise BadInput(f"the irqs steps add up to more than {EVENT_BUDGET} device events"
                               f"{f' ({copies} guest copies each)' if copies > 1 else ''}; "
                               "a scenario runs at most that many (a storm shows in far fewer)",
                               step.loc)


def _parse_step(raw: Any, index: int, loc: Location, specs: _Specs, host: SimHost,
                vm: SimVM | None = None) -> Step:
    if isinstance(raw, str):
        if raw not in BARE_STEPS:
            hint = " (it needs an argument)" if raw in ARG_STEPS else ""
            raise BadInput(f"unknown step {raw!r}{hint}; steps: {', '.join(STEP_NAMES)}", loc)
        return Step(index, raw, None, loc)
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise BadInput(f"a step is a name or a one-key mapping {{name: argument}}, got {raw!r}", loc)
    ((name, arg),) = raw.items()
    if name not in ARG_STEPS:
        hint = " (it takes no argument)" if name in BARE_STEPS else ""
        raise BadInput(f"unknown step {name!r}{hint}; steps: {', '.join(STEP_NAMES)}", loc)
    aloc = Location(loc.source, line_of(arg, None, line_of(raw, name, loc.line)))
    parsed: Any
    if name in ("boot", "migrate"):
        parsed = specs.host(arg, aloc)
    elif name == "irqs":
        parsed = _int(arg, "irqs", aloc, 0, EVENT_BUDGET)
    elif name == "create_vm":
        if isinstance(arg, (str, bool)):
            arg = {"irqchip": arg}
        m = _mapping(arg, "create_vm", ("irqchip", "ioapic", "vcpu"), ("irqchip",), aloc)
        # Without its own ioapic the bare VM has the scenario VM's; a different one is a conflict.
        ioapic = vm.ioapic if vm is not None else SimVM.ioapic
        if "ioapic" in m:
            given = _ioapic_version(m["ioapic"], "ioapic", _sub(arg, "ioapic", aloc))
            if vm is not None and given != ioapic:
                raise BadInput(f"create_vm: ioapic {given:#x} contradicts the scenario's vm "
                               f"ioapic {ioapic:#x}", _sub(arg, "ioapic", aloc))
            ioapic = given
        parsed = {
            "irqchip": _irqchip(m["irqchip"], _sub(arg, "irqchip", aloc)),
            "ioapic": ioapic,
            "vcpu": _bool(m.get("vcpu", True), "vcpu", _sub(arg, "vcpu", aloc)),
        }
    elif name == "create_irqchip":
        parsed = _irqchip(arg, aloc)
        if parsed == IRQCHIP_NONE:
            raise BadInput("create_irqchip: use on or split", aloc)
    elif name == "check_extension":
        if isinstance(arg, str):
            arg = {"fd": arg}
        m = _mapping(arg, "check_extension", ("fd",), ("fd",), aloc)
        parsed = _choice(m["fd"], "fd", ("system", "vm"), _sub(arg, "fd", aloc))
    elif name == "enable_cap":
        parsed = _int(arg, "enable_cap mask", aloc, 0, 0xFFFFFFFF)
    elif name == "set_cpuid":
        m = _mapping(arg, "set_cpuid", ("x2apic",), ("x2apic",), aloc)
        parsed = _bool(m["x2apic"], "x2apic", _sub(arg, "x2apic", aloc))
    elif name == "guest_write_svr":
        parsed = _int(arg, "guest_write_svr value", aloc, 0, 0xFFFFFFFF)
    elif name == "set_lapic":
        m = _mapping(arg, "set_lapic", ("svr",), ("svr",), aloc)
        parsed = _int(m["svr"], "svr", _sub(arg, "svr", aloc), 0, 0xFFFFFFFF)
    elif name == "rte":
        m = _mapping(arg, "rte", ("pin", "vector", "trigger", "mask"), ("pin", "vector"), aloc)
        parsed = {
            "pin": _int(m["pin"], "pin", _sub(arg, "pin", aloc), 0, IOAPIC_PINS - 1),
            "vector": _int(m["vector"], "vector", _sub(arg, "vector", aloc), 0x10, 0xFF),
            "level": _choice(
                m.get("trigger", "edge"), "trigger", ("level", "edge"), _sub(arg, "trigger", aloc)
            )
            == "level",
            "mask": _bool(m.get("mask", False), "mask", _sub(arg, "mask", aloc)),
        }
    elif name == "line":
        m = _mapping(arg, "line", ("pin", "level"), ("pin", "level"), aloc)
        parsed = (
            _int(m["pin"], "pin", _sub(arg, "pin", aloc), 0, IOAPIC_PINS - 1),
            _int(m["level"], "level", _sub(arg, "level", aloc), 0, 1),
        )
    elif name == "guest_eoir":
        parsed = _int(arg, "guest_eoir vector", aloc, 0, 0xFF)
    else:  # expect
        parsed = _parse_expect(arg, aloc)
    return Step(index, name, parsed, aloc if name != "expect" else loc)


# -- execution ---------------------------------------------------------------
def _accept_pending(lapic: Any, ioapic: Ioapic) -> None:
    """The ``run`` step: the CPU accepts what is pending (IRR -> ISR, no handler)."""
    for _ in range(512):  # each vector at most once per class; bounded anyway
        if lapic.ack() >= 0:
            continue
        if ioapic.delayed:
            ioapic.fire_delayed()
            continue
        break


class _Bench:
    """A bare VM for register-level steps: KVM objects and an IOAPIC, no QEMU policy."""

    def __init__(self, host: SimHost, irqchip: str, ioapic: int, vcpu: bool) -> None:
        self.kvm = Kvm(host.x2apic_api, host.split_irqchip)
        self.kvm_vm: KvmVm = self.kvm.create_vm()
        self.ioapic_version = ioapic
        self.ioapic = Ioapic(ioapic)
        self.kvm_vm.eoi_exit = self.ioapic.eoi_broadcast
        self.vcpu: KvmVcpu | None = None
        self.create_result = 0
        if irqchip != IRQCHIP_NONE:
            self.create_result = self.create_irqchip(irqchip)
        if vcpu:
            self.create_vcpu()

    def deliver(self) -> None:
        """The ``run`` step: the CPU accepts what is pending (IRR -> ISR, no handler)."""
        assert self.vcpu is not None
        _accept_pending(self.vcpu.lapic, self.ioapic)

    def suppression_honored(self) -> bool:
        assert self.vcpu is not None
        return probe_suppression(self.kvm_vm, self.vcpu, self.ioapic.version)

    def create_irqchip(self, kind: str) -> int:
        result = self.kvm_vm.create_irqchip(kind)
        if result == 0 and kind == IRQCHIP_KERNEL and self.kvm_vm.kernel_ioapic is not None:
            self.ioapic = self.kvm_vm.kernel_ioapic
            self.kvm_vm.eoi_exit = None
        return result

    def create_vcpu(self) -> int:
        if self.vcpu is not None:
            return -17
        self.vcpu = self.kvm_vm.create_vcpu()
        self.ioapic.sink = self.vcpu.lapic.accept
        return 0


class Backend(Protocol):
    """What executes register-level steps: the simulator's objects or a real kernel's.

    ``bench`` returns an object with ``kvm``, ``kvm_vm``, ``vcpu``, ``ioapic``,
    ``create_result``, ``create_irqchip``, ``create_vcpu``, ``deliver`` and
    ``suppression_honored`` (as :class:`_Bench`); ``check`` refuses, before anything
    runs, steps this backend cannot execute.
    """

    name: str

    def check(self, steps: list[Step], host: SimHost, where: Location) -> None: ...

    def system_kvm(self, host: SimHost) -> Any: ...

    def bench(self, host: SimHost, irqchip: str, ioapic: int, vcpu: bool) -> Any: ...


class _SimBackend:
    """The default backend: the simulator's own KVM, LAPIC and IOAPIC models."""

    name = "sim"

    def check(self, steps: list[Step], host: SimHost, where: Location) -> None:
        return None

    def system_kvm(self, host: SimHost) -> Kvm:
        return Kvm(host.x2apic_api, host.split_irqchip)

    def bench(self, host: SimHost, irqchip: str, ioapic: int, vcpu: bool) -> _Bench:
        return _Bench(host, irqchip, ioapic, vcpu)


SIM_BACKEND: Backend = _SimBackend()


class _Runner:
    def __init__(
        self, source: str, host: SimHost, vm: SimVM, specs: _Specs, backend: Backend = SIM_BACKEND
    ) -> None:
        self.backend = backend
        self.source = source
        self.host = host
        self.vm = vm
        self.specs = specs
        self.session: Session | None = None
        self.bench: _Bench | None = None
        self.targets: list[Any] = []  # what register-level steps act on (Machine or _Bench)
        self.snaps: tuple[Snapshot, ...] | None = None
        self.last_result: int | None = None
        self.expectations: list[Expectation] = []

    # every register-level target has kvm_vm, vcpu and ioapic
    def _target(self, step: Step, need_vcpu: bool = True) -> Any:
        if not self.targets:
            raise BadInput(f"{step.name}: no VM yet (use create_vm or boot first)", step.loc)
        first = self.targets[0]
        if need_vcpu and first.vcpu is None:
            raise BadInput(f"{step.name}: the VM has no vCPU yet (use create_vcpu)", step.loc)
        return first

    def _session(self, step: Step) -> Session:
        if self.session is None:
            raise BadInput(f"{step.name}: needs a booted VM (use boot first)", step.loc)
        return self.session

    def run(self, steps: list[Step]) -> None:
        for step in steps:
            getattr(self, "_do_" + step.name)(step)

    # -- high level ------------------------------------------------------
    def _do_boot(self, step: Step) -> None:
        if self.session is None:
            self.session = Session(step.arg or self.host, self.vm)
        self.session.boot(step.arg)
        self.bench = None
        self.targets = list(self.session.machines)

    def _do_irqs(self, step: Step) -> None:
        self._session(step).irqs(step.arg)

    def _do_migrate(self, step: Step) -> None:
        s = self._session(step)
        s.migrate(step.arg)
        self.targets = list(s.machines)

    def _do_savevm(self, step: Step) -> None:
        s = self._session(step)
        if not s.running:
            raise BadInput("savevm: no VM is running", step.loc)
        self.snaps = s.savevm()

    def _do_loadvm(self, step: Step) -> None:
        s = self._session(step)
        if self.snaps is None:
            raise BadInput("loadvm: no savevm before it", step.loc)
        s.loadvm(self.snaps)
        self.targets = list(s.machines)

    def _do_reset(self, step: Step) -> None:
        if self.bench is not None:
            vcpu = self._target(step).vcpu
            vcpu.reset()
            self.bench.ioapic.reset()
            return
        self._session(step).reset()

    # -- register level --------------------------------------------------
    def _do_create_vm(self, step: Step) -> None:
        a = step.arg
        self.bench = self.backend.bench(self.host, a["irqchip"], a["ioapic"], a["vcpu"])
        self.last_result = self.bench.create_result
        self.targets = [self.bench]

    def _do_create_irqchip(self, step: Step) -> None:
        if self.bench is None:
            raise BadInput("create_irqchip: needs create_vm first", step.loc)
        self.last_result = self.bench.create_irqchip(step.arg)

    def _do_create_vcpu(self, step: Step) -> None:
        if self.bench is None:
            raise BadInput("create_vcpu: needs create_vm first", step.loc)
        self.last_result = self.bench.create_vcpu()

    def _do_check_extension(self, step: Step) -> None:
        if step.arg == "system":
            kvm = self.bench.kvm if self.bench is not None else self.backend.system_kvm(self.host)
            self.last_result = kvm.check_extension_x2apic_api()
        else:
            self.last_result = self._target(step, need_vcpu=False).kvm_vm.check_extension_x2apic_api()

    def _do_enable_cap(self, step: Step) -> None:
        self._target(step, need_vcpu=False)
        results = [t.kvm_vm.enable_cap_x2apic_api(step.arg) for t in self.targets]
        self.last_result = results[0]

    def _do_set_cpuid(self, step: Step) -> None:
        self._target(step)
        results = [t.vcpu.set_cpuid(step.arg) for t in self.targets]
        self.last_result = results[0]

    def _do_guest_write_svr(self, step: Step) -> None:
        self._target(step)
        for t in self.targets:
            t.vcpu.guest_write_svr(step.arg)
        self.last_result = 0

    def _do_set_lapic(self, step: Step) -> None:
        self._target(step)
        for t in self.targets:
            _, irr, isr, tmr = t.vcpu.get_lapic()
            self.last_result = t.vcpu.set_lapic((step.arg, irr, isr, tmr))

    def _do_rte(self, step: Step) -> None:
        self._target(step, need_vcpu=False)
        a = step.arg
        for t in self.targets:
            t.ioapic.write_rte(a["pin"], rte(a["vector"], a["level"], a["mask"]))

    def _do_line(self, step: Step) -> None:
        self._target(step, need_vcpu=False)
        pin, level = step.arg
        for t in self.targets:
            t.ioapic.set_line(pin, level)

    def _do_run(self, step: Step) -> None:
        self._target(step)
        if self.bench is not None and self.targets == [self.bench]:
            self.bench.deliver()
            return
        for t in self.targets:
            _accept_pending(t.vcpu.lapic, t.ioapic)

    def _do_guest_eoi(self, step: Step) -> None:
        self._target(step)
        results = [t.vcpu.guest_eoi(t.ioapic.level_vectors) for t in self.targets]
        self.last_result = results[0]

    def _do_guest_eoir(self, step: Step) -> None:
        self._target(step, need_vcpu=False)
        for t in self.targets:
            t.ioapic.mmio_write(EOIR_OFFSET, step.arg)

    # -- expectations ----------------------------------------------------
    def _do_expect(self, step: Step) -> None:
        for key, expected, loc in step.arg:
            actual = self._actual(key, expected, step, loc)
            self.expectations.append(
                Expectation(step.index + 1, loc.line, key, expected, actual, actual == expected)
            )

    def _actual(self, key: str, expected: Any, step: Step, loc: Location) -> Any:
        if key in ("outcome", "findings", "running", "storms", "stuck_events", "counters"):
            s = self.session
            if s is None:
                raise BadInput(f"expect {key}: needs a booted VM (use boot first)", loc)
            if key == "outcome":
                return s.outcome()
            if key == "findings":
                return list(s.findings())
            if key == "running":
                return s.running
            counters = s.counters()
            if key == "counters":
                return {k: counters.get(k, 0) for k in expected}
            return counters.get(key, 0)
        if key == "last_result":
            if self.last_result is None:
                raise BadInput("expect last_result: no ioctl has run yet", loc)
            if isinstance(expected, str):
                return errno_name(self.last_result)
            return self.last_result
        if key in ("policy", "kvm_flags", "suppression_honored"):
            state = self.state()
            if state is None:
                return None
            return getattr(state, key)
        t = self._target(step, need_vcpu=key in ("lvr_bit24", "svr_bit12", "irr", "isr", "tmr", "interrupts"))
        if key == "kvm_mode":
            return t.kvm_vm.mode
        if key == "eoi_exits":
            return t.kvm_vm.eoi_exits
        if key == "ioapic_version":
            return t.ioapic.read_version() & 0xFF
        if key == "lvr_bit24":
            return int(bool(t.vcpu.lapic.lvr & LVR_SEOIB))
        if key == "svr_bit12":
            return int(bool(t.vcpu.lapic.svr & SVR_SEOIB))
        if key == "remote_irr":
            return {pin: t.ioapic.remote_irr(pin) for pin in expected}
        if key in ("irr", "isr", "tmr"):
            reg = getattr(t.vcpu.lapic, key)
            return {v: (reg >> v) & 1 for v in expected}
        if key == "deliveries":
            return {pin: t.ioapic.delivered[pin] for pin in expected}
        # interrupts
        return {v: t.vcpu.lapic.taken[v] for v in expected}

    def state(self) -> VMState | None:
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


def load_scenario(path: str | Path) -> Any:
    """Read a scenario file (BadInput with file:line on any YAML problem)."""
    return load_yaml(path)


def run_scenario(
    data: Any,
    source: str,
    *,
    host_resolver: HostResolver | None = None,
    vm_resolver: VmResolver | None = None,
    backend: Backend = SIM_BACKEND,
) -> ScenarioResult:
    """Validate the whole scenario, then run it (register-level steps on ``backend``).

    Raises
    ------
    BadInput
        Anything invalid in the scenario, located as ``file:line``.
    """
    top = Location(source, line_of(data, None, 1))
    if not isinstance(data, Mapping):
        raise BadInput("a scenario is a mapping with host, vm and steps", top)
    for key in data:
        if key not in TOP_KEYS:
            raise BadInput(
                f"unknown scenario key {key!r} (known: {', '.join(TOP_KEYS)})", _sub(data, key, top)
            )
    specs = _Specs(host_resolver, vm_resolver)
    host = specs.host(data["host"], _sub(data, "host", top)) if "host" in data else SimHost()
    vm = specs.vm(data["vm"], host, _sub(data, "vm", top)) if "vm" in data else SimVM()
    raw_steps = data.get("steps")
    sloc = _sub(data, "steps", top)
    if not isinstance(raw_steps, list) or not raw_steps:
        raise BadInput("steps must be a non-empty list", sloc)
    steps = [
        _parse_step(raw, i, Location(source, line_of(raw_steps, i, sloc.line)), specs, host,
                    vm if "vm" in data else None)
        for i, raw in enumerate(raw_steps)
    ]
    _check_event_budget(steps, vm)
    backend.check(steps, host, top)
    runner = _Runner(source, host, vm, specs, backend)
    runner.run(steps)
    s = runner.session
    metrics: dict[str, Any] = {
        "steps": len(steps),
        "expectations": len(runner.expectations),
        "failed": sum(not e.passed for e in runner.expectations),
        "counters": s.counters() if s is not None else {},
    }
    return ScenarioResult(
        source=source,
        host=host,
        vm=vm,
        expectations=runner.expectations,
        metrics=metrics,
        state=runner.state(),
        outcome=s.outcome() if s is not None else None,
        findings=s.findings() if s is not None else (),
        events=s.trace.freeze() if s is not None else (),
    )
