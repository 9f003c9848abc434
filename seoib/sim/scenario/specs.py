"""Host and VM specs of a scenario: mechanistic keys parsed here, anything else resolved outside.

A spec is a mapping or a ``k=v,k=v`` string. Mechanistic keys (``HOST_KEYS``,
``VM_KEYS``) become a :class:`SimHost` / :class:`SimVM` here; a host spec with other
keys (``kernel=``, ``qemu=``) goes to the resolver the CLI passes in, and so does the
VM of such a scenario. The simulator itself never reads rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from seoib.errors import Location, SpecError
from seoib.yamlio import line_of

from ..config import DESIGNS, GUESTS, SEOIB_POLICIES, SimHost, SimVM
from .values import as_bool, as_choice, as_int, as_ioapic_version, as_irqchip, as_version

__all__ = ["HOST_KEYS", "VM_KEYS", "HostResolver", "Specs", "VmResolver", "parse_host", "parse_vm"]

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
_VERSION_SUFFIX = re.compile(r"-(\d+(?:\.\d+)*)$")


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


def _machines(value: Any, loc: Location) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset(p.strip() for p in value.split("+") if p.strip())
    if isinstance(value, list) and all(isinstance(p, str) for p in value):
        return frozenset(value)
    raise SpecError(f"machines must be a list of machine type names, got {value!r}", loc)


def parse_host(spec: Any, loc: Location) -> SimHost:
    """A mechanistic host spec (keys ``HOST_KEYS``) into a SimHost."""
    kw: dict[str, Any] = {}
    for key, value, kloc in _spec_items(spec, "host", loc):
        if key == "name":
            kw["name"] = str(value)
        elif key == "x2apic-api":
            kw["x2apic_api"] = as_int(value, "x2apic-api", kloc, 0, 0xF)
        elif key == "split-irqchip":
            kw["split_irqchip"] = as_bool(value, "split-irqchip", kloc)
        elif key == "seoib":
            kw["seoib"] = as_choice(value, "seoib", DESIGNS, kloc)
        elif key == "qemu-version":
            if not isinstance(value, str) or not re.match(r"^[0-9]{1,9}\.[0-9]{1,9}", value):
                raise SpecError(f"qemu-version must be quoted, e.g. '11.0.0', got {value!r}", kloc)
            kw["qemu_version"] = value
        elif key == "machines":
            kw["machines"] = _machines(value, kloc)
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
            kw["machine_version"] = as_version(value, "machine-version", kloc)
            version_given = True
        elif key == "irqchip":
            kw["irqchip"] = as_irqchip(value, kloc)
        elif key == "ioapic":
            kw["ioapic"] = as_ioapic_version(value, "ioapic", kloc)
        elif key == "ioapic-global":
            ioapic_global = as_bool(value, "ioapic-global", kloc)
        elif key == "x2apic":
            kw["x2apic"] = as_bool(value, "x2apic", kloc)
        elif key == "guest":
            kw["guest"] = as_choice(value, "guest", GUESTS, kloc)
        elif key == "seoib-policy":
            kw["seoib_policy"] = as_choice(value, "seoib-policy", SEOIB_POLICIES, kloc)
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


class Specs:
    """Decides per spec: mechanistic keys only -> parse here; otherwise the resolver."""

    def __init__(self, host_resolver: HostResolver | None, vm_resolver: VmResolver | None) -> None:
        self.host_resolver = host_resolver
        self.vm_resolver = vm_resolver
        self.rule_level = False

    def host(self, spec: Any, loc: Location) -> SimHost:
        """The host of a ``host:`` key or a ``boot``/``migrate`` step."""
        keys = _keys_of(spec)
        if keys <= set(HOST_KEYS) or self.host_resolver is None:
            return _wrap(parse_host, spec, loc)
        self.rule_level = True
        return self.host_resolver(spec, loc)

    def vm(self, spec: Any, host: SimHost, loc: Location) -> SimVM:
        """The scenario's VM; a rule-level scenario gets the rules' machine-type defaults too."""
        if self.rule_level and self.vm_resolver is not None:
            return self.vm_resolver(spec, host, loc)
        return _wrap(parse_vm, spec, loc)


def _wrap(fn: Callable[[Any, Location], Any], spec: Any, loc: Location) -> Any:
    try:
        return fn(spec, loc)
    except ValueError as exc:  # a dataclass invariant the key parsers did not catch
        raise SpecError(str(exc), loc) from None
