"""The ``expect`` keys as a table: key -> ExpectDef(parse, read, needs, doc).

Each key has one entry: ``parse`` checks the expected value written in the scenario
(and normalises it), ``needs`` names what the key reads (``NEEDS``: the booted
session, the VM state, the last ioctl result, or the register-level target with or
without a vCPU), ``read`` returns the actual value compared with ``==``, and ``arg``
/ ``doc`` are what ``seoib simulate --help`` and the command's reference print.
The table's order is the order the help lists the keys in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from seoib.errors import BadInput, Location

from ..config import SEOIB_POLICIES
from ..ioapic import IOAPIC_PINS
from ..kvm import MODE_DISABLED, MODE_ENABLED, MODE_QUIRKED, errno_name
from ..lapic import LVR_SEOIB, SVR_SEOIB
from ..outcome import BOOT_OUTCOMES, MIGRATION_OUTCOMES
from .context import RunState
from .records import Expectation, ScenarioStep
from .values import as_bit_map, as_bool, as_choice, as_int, sub_loc

__all__ = ["EXPECTS", "EXPECT_KEYS", "NEEDS", "ExpectDef", "check_expectations", "parse_expect"]

Parse = Callable[[Any, str, Location], Any]
Read = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class ExpectDef:
    """One expect key: how its value is checked and how the actual value is read."""

    parse: Parse  # (value, key, location) -> the expected value, or BadInput
    read: Read  # (subject, expected) -> the actual value; the subject is what ``needs`` names
    needs: str  # a key of NEEDS
    doc: str  # what the key compares, for the reference
    arg: str = ""  # the value's shape when it is a mapping, for the help


NEEDS = {
    "session": "the current observation window (since the last boot, reset, migrate or loadvm)",
    "state": "the VM state as in ``seoib migrate``",
    "ioctl": "the result of the last ioctl step",
    "vm": "the bare VM (create_vm) or the booted VM; values are read from the first guest copy",
    "vcpu": "the same VM, which needs a vCPU by then",
}


# -- parsers: one per kind of value -------------------------------------------
def _outcome(value: Any, key: str, loc: Location) -> str:
    return as_choice(value, "outcome", tuple(dict.fromkeys((*BOOT_OUTCOMES, *MIGRATION_OUTCOMES))), loc)


def _findings(value: Any, key: str, loc: Location) -> list[str]:
    if not isinstance(value, list) or not all(v in MIGRATION_OUTCOMES for v in value):
        raise BadInput(f"findings must be a list of {', '.join(MIGRATION_OUTCOMES)}", loc)
    return list(value)


def _policy(value: Any, key: str, loc: Location) -> str:
    return as_choice(value, "policy", (*SEOIB_POLICIES, "n/a"), loc)


def _kvm_mode(value: Any, key: str, loc: Location) -> str:
    return as_choice(value, "kvm_mode", (MODE_QUIRKED, MODE_ENABLED, MODE_DISABLED), loc)


def _flag(value: Any, key: str, loc: Location) -> bool:
    return as_bool(value, key, loc)


def _bit(value: Any, key: str, loc: Location) -> int:
    return int(as_bool(value, key, loc))


def _count(value: Any, key: str, loc: Location) -> int:
    return as_int(value, key, loc)


def _ioctl_result(value: Any, key: str, loc: Location) -> int | str:
    if isinstance(value, str) and value in ("ok", "EINVAL", "EEXIST"):
        return value
    return as_int(value, "last_result", loc)


def _pin_bits(value: Any, key: str, loc: Location) -> dict[int, int]:
    return as_bit_map(value, key, loc, IOAPIC_PINS - 1, (0, 1))


def _vector_bits(value: Any, key: str, loc: Location) -> dict[int, int]:
    return as_bit_map(value, key, loc, 255, (0, 1))


def _pin_counts(value: Any, key: str, loc: Location) -> dict[int, int]:
    return as_bit_map(value, key, loc, IOAPIC_PINS - 1, None)


def _vector_counts(value: Any, key: str, loc: Location) -> dict[int, int]:
    return as_bit_map(value, key, loc, 255, None)


def _counters(value: Any, key: str, loc: Location) -> dict[str, int]:
    if not isinstance(value, Mapping) or not value:
        raise BadInput("counters: expected a mapping of counter names to counts", loc)
    return {str(k): as_int(v, f"counters[{k}]", sub_loc(value, k, loc)) for k, v in value.items()}


# -- readers ------------------------------------------------------------------
def _counter(name: str) -> Read:
    return lambda s, expected: s.counters().get(name, 0)


def _state_field(name: str) -> Read:
    return lambda state, expected: getattr(state, name) if state is not None else None


def _lapic_bits(name: str) -> Read:
    def read(t: Any, expected: dict[int, int]) -> dict[int, int]:
        reg = getattr(t.vcpu.lapic, name)
        return {v: (reg >> v) & 1 for v in expected}

    return read


def _last_result(result: int, expected: Any) -> int | str:
    return errno_name(result) if isinstance(expected, str) else result


EXPECTS: dict[str, ExpectDef] = {
    "outcome": ExpectDef(_outcome, lambda s, e: s.outcome(), "session", "the boot or migration outcome"),
    "findings": ExpectDef(_findings, lambda s, e: list(s.findings()), "session",
                          "(list) every migration outcome seen in the window"),
    "running": ExpectDef(_flag, lambda s, e: s.running, "session",
                         "whether a VM is running (after a destination abort: the source, paused "
                         "until `cont`)"),
    "source_runstate": ExpectDef(
        lambda v, k, loc: as_choice(v, k, ("running", "postmigrate", "not-started"), loc),
        lambda s, e: s.source_runstate, "session",
        "the source QEMU after the last live migration: running (it failed before the stream was "
        "all sent), postmigrate (all sent: paused until `cont`) or not-started"),
    "storms": ExpectDef(_count, _counter("storms"), "session", "device events that stormed"),
    "stuck_events": ExpectDef(_count, _counter("stuck_events"), "session", "events left undelivered"),
    "counters": ExpectDef(_counters, lambda s, e: {k: s.counters().get(k, 0) for k in e}, "session",
                          "the named counters (the others are not compared)", "{name: N}"),
    "policy": ExpectDef(_policy, _state_field("policy"), "state", "the SEOIB policy the VM got"),
    "kvm_flags": ExpectDef(_count, _state_field("kvm_flags"), "state",
                           "the SEOIB flag KVM_ENABLE_CAP accepted (0 while QUIRKED)"),
    "suppression_honored": ExpectDef(_flag, _state_field("suppression_honored"), "state",
                                     "whether suppression is honoured when the guest asks for it"),
    "kvm_mode": ExpectDef(_kvm_mode, lambda t, e: t.kvm_vm.mode, "vm", "(QUIRKED|ENABLED|DISABLED)"),
    "lvr_bit24": ExpectDef(_bit, lambda t, e: int(bool(t.vcpu.lapic.lvr & LVR_SEOIB)), "vcpu",
                           "the LAPIC version register's SEOIB bit"),
    "svr_bit12": ExpectDef(_bit, lambda t, e: int(bool(t.vcpu.lapic.svr & SVR_SEOIB)), "vcpu",
                           "the spurious-vector register's suppress-EOI-broadcast bit"),
    "last_result": ExpectDef(_ioctl_result, _last_result, "ioctl", "(ok|EINVAL|EEXIST|<value>)"),
    "ioapic_version": ExpectDef(_count, lambda t, e: t.ioapic.read_version() & 0xFF, "vm",
                                "the IOAPIC version register's low byte"),
    "eoi_exits": ExpectDef(_count, lambda t, e: t.kvm_vm.eoi_exits, "vm", "KVM_EXIT_IOAPIC_EOI count"),
    "remote_irr": ExpectDef(_pin_bits, lambda t, e: {p: t.ioapic.remote_irr(p) for p in e}, "vm",
                            "the redirection entries' Remote IRR bits", "{pin: 0|1}"),
    "irr": ExpectDef(_vector_bits, _lapic_bits("irr"), "vcpu", "LAPIC register bits", "{vector: 0|1}"),
    "isr": ExpectDef(_vector_bits, _lapic_bits("isr"), "vcpu", "LAPIC register bits", "{vector: 0|1}"),
    "tmr": ExpectDef(_vector_bits, _lapic_bits("tmr"), "vcpu", "LAPIC register bits", "{vector: 0|1}"),
    "deliveries": ExpectDef(_pin_counts, lambda t, e: {p: t.ioapic.delivered[p] for p in e}, "vm",
                            "IOAPIC messages sent for the pin", "{pin: N}"),
    "interrupts": ExpectDef(_vector_counts, lambda t, e: {v: t.vcpu.lapic.taken[v] for v in e}, "vcpu",
                            "times the CPU accepted the vector", "{vector: N}"),
}
EXPECT_KEYS = tuple(EXPECTS)


def parse_expect(arg: Any, loc: Location) -> list[tuple[str, Any, Location]]:
    """The ``expect`` step's argument: (key, expected value, location) per key, in order."""
    if not isinstance(arg, Mapping) or not arg:
        raise BadInput(f"expect: expected a mapping of {', '.join(EXPECTS)}", loc)
    out: list[tuple[str, Any, Location]] = []
    for key, value in arg.items():
        kloc = sub_loc(arg, key, loc)
        entry = EXPECTS.get(key) if isinstance(key, str) else None
        if entry is None:
            raise BadInput(f"unknown expect key {key!r} (known: {', '.join(EXPECTS)})", kloc)
        out.append((key, entry.parse(value, key, kloc), kloc))
    return out


def _subject(run: RunState, needs: str, key: str, step: ScenarioStep, loc: Location) -> Any:
    """What an expect key reads, or BadInput when the scenario has not built it yet."""
    if needs == "session":
        if run.session is None:
            raise BadInput(f"expect {key}: needs a booted VM (use boot first)", loc)
        return run.session
    if needs == "state":
        return run.state()
    if needs == "ioctl":
        if run.last_result is None:
            raise BadInput("expect last_result: no ioctl has run yet", loc)
        return run.last_result
    return run.target(step, need_vcpu=needs == "vcpu")


def check_expectations(run: RunState, step: ScenarioStep) -> None:
    """The ``expect`` step: read each key's actual value and record the comparison."""
    for key, expected, loc in step.arg:
        entry = EXPECTS[key]
        actual = entry.read(_subject(run, entry.needs, key, step, loc), expected)
        run.expectations.append(
            Expectation(step.index + 1, loc.line, key, expected, actual, actual == expected)
        )
