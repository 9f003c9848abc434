"""Host and VM specs: the public contract's ``key=value,...`` strings and mappings.

Parsing here is syntax and value checking only; what a release or machine type
means is the resolver's job. Unknown keys and bad values are SpecErrors that
name the argument (or file:line) they came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import BadInput, Location, SpecError
from ..files import MAX_DIGITS, Limit, load_json_file
from ..record import record
from ..vocabulary import HOST_SPEC_KEYS, SEOIB_POLICIES, VM_SPEC_KEYS
from .matrix_keys import host_key_spec, vm_key_spec
from .versions import parse_release

__all__ = ["MAX_VALUE_CHARS", "HostSpec", "VMSpec", "parse_host_spec", "parse_vm_spec", "spec_items"]

HOST_KEYS = ("name", *HOST_SPEC_KEYS)
VM_KEYS = ("name", *VM_SPEC_KEYS)
# A host JSON file is a few hundred bytes; a megabyte is generous.
HOST_FILE_BYTES = 1024 * 1024
# Values that are names of releases, machine types and designs: ASCII only, so a
# digit is 0-9 (not an Arabic-Indic or full-width one) and a number is short.
_PLAIN_KEYS = ("kernel", "qemu", "seoib", "machine", "guest")
_PLAIN = re.compile(r"^[!-~]+$")
_DIGIT_RUN = re.compile(r"[0-9]+")
_MASK = re.compile(r"^(?:0[xX][0-9a-fA-F]+|[0-9]+)$")
# A release, machine type or name is tens of characters; a DNS name at most 253.
MAX_VALUE_CHARS = Limit("spec value length", "SEOIB_MAX_SPEC_VALUE", 256, "characters")
_ONOFF = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False}


@record
class HostSpec:
    """A host as the user gave it (``kernel=...,qemu=...,seoib=...``), checked but not resolved.

    Built by :func:`parse_host_spec` (from a spec string, a JSON object or a plan
    entry) or by code that names a class's representative (``StackClass.spec``).
    Frozen; keys are checked, release names are plain ASCII, ``x2apic_api`` is the
    probed mask as given (the resolver moves bits newer than the rules to
    ``ignored_x2apic_bits``).
    ``origin`` is where it was written, for error messages; it takes part in
    equality, so callers that memoize by spec drop it (``replace(spec, origin=None)``).
    """

    name: str | None = None
    kernel: str | None = None
    x2apic_api: int | None = None
    qemu: str | None = None
    seoib: str | None = None
    machines: tuple[str, ...] | None = None  # a probe's list overrides the rules
    origin: Location | None = None
    ignored_x2apic_bits: int = 0  # mask bits newer than the rules know (kept out of x2apic_api)

    def label(self) -> str:
        if self.name:
            return self.name
        parts = [f"kernel={self.kernel}" if self.kernel else None,
                 f"x2apic-api={self.x2apic_api:#x}" if self.x2apic_api is not None else None,
                 f"qemu={self.qemu}" if self.qemu else None,
                 f"seoib={self.seoib}" if self.seoib else None]
        return ",".join(p for p in parts if p)


@record
class VMSpec:
    """A VM as the user gave it (unset fields take the machine type's defaults).

    Built by :func:`parse_vm_spec`, by the input readers (domain XML, QEMU command
    line) through it, or by code naming a class's representative. Frozen; values
    are in their vocabularies (``irqchip`` on/split/off, ``ioapic`` 0x11/0x20,
    ``seoib_policy`` one of ``vocabulary.SEOIB_POLICIES``); nothing is resolved yet.
    """

    machine: str | None = None
    irqchip: str | None = None
    ioapic: str | None = None
    x2apic: bool | None = None
    guest: str | None = None
    seoib_policy: str | None = None
    name: str | None = None
    origin: Location | None = None
    notes: tuple[str, ...] = ()
    # What QEMU demands of the resolved VM (seoib.inputs.vminput.Requirement), from a command line.
    requires: tuple[tuple[str, tuple[str, ...], str, Location | None], ...] = ()


def spec_items(text: str, where: Location) -> dict[str, str]:
    """Split ``k=v,k=v`` into a dict; SpecError on anything else."""
    items: dict[str, str] = {}
    if not text.strip():
        raise SpecError("empty spec (expected key=value pairs separated by commas)", where)
    for part in text.split(","):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key or not value:
            raise SpecError(f"malformed spec item {part.strip()!r} (expected key=value)", where)
        if key in items:
            raise SpecError(f"key {key!r} given twice", where)
        items[key] = value
    return items


def _mapping(raw: str | Mapping[str, Any], where: Location) -> tuple[dict[str, Any], Location]:
    if isinstance(raw, Mapping):
        return dict(raw), where
    if raw.startswith("@"):
        # "@probe.json,qemu=11.0.0": a file, then key=value overrides (e.g. a QEMU
        # version the probe could not see on this machine).
        file_part, comma, overrides = raw.partition(",")
        if not file_part[1:]:
            raise SpecError("@ needs a file name (@probe.json)", where)
        if comma and not overrides.strip():
            raise SpecError(f"trailing comma after {file_part}: give key=value overrides after "
                            "it, or drop the comma", where)
        loc = Location(file_part[1:])
        data = load_json_file(file_part[1:], HOST_FILE_BYTES)
        if not isinstance(data, dict):
            raise SpecError("expected a JSON object (a host spec)", loc)
        data.pop("notes", None)
        data.pop("aliases", None)
        data.pop("behaviour", None)  # what the probe measured; the mask above carries it
        # What a probe measured and where it disagreed with the rules: a report, not a spec.
        data.pop("measured", None)
        data.pop("warnings", None)
        if overrides:
            data.update(spec_items(overrides, where))
        return data, loc
    return spec_items(raw, where), where


def _line(raw: Any, key: str, where: Location) -> Location:
    if getattr(where, "line", None) is None:  # a command-line spec: no lines, no yaml to import
        return where
    from ..yamlio import LineDict

    if isinstance(raw, LineDict):
        return Location(where.source, raw.line_of(key))
    return where


def _check_keys(data: Mapping[str, Any], allowed: tuple[str, ...], what: str, raw: Any,
                where: Location) -> None:
    for key in data:
        if key not in allowed:
            raise SpecError(f"unknown {what} key {key!r} (known: {', '.join(allowed)})",
                            _line(raw, str(key), where))


def _text(data: Mapping[str, Any], key: str, raw: Any, where: Location,
          digits: int | None = None, chars: int | None = None) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if type(value) is not str:
        # Names and releases are text, never a JSON/YAML number: that loses what made it a
        # version (6.10 reads as 6.1), so it is refused rather than judged as another release.
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise SpecError(f"{key} is written as a number ({value!r}), not as text: quote it "
                            "(a JSON or YAML number loses digits: 6.10 reads as 6.1)",
                            _line(raw, key, where))
        raise SpecError(f"{key} must be a plain value, not {type(value).__name__}",
                        _line(raw, key, where))
    text = value
    if key in _PLAIN_KEYS:
        _plain(key, text, raw, where, digits)
    elif not text.isprintable():  # a name is printed: no ESC, no newline
        raise SpecError(f"{key}={text!r} holds control characters", _line(raw, key, where))
    if len(text) > (MAX_VALUE_CHARS.value() if chars is None else chars):  # after the digit check
        raise BadInput(MAX_VALUE_CHARS.refusal(f"{key}: a value of {len(text)} characters"),
                       _line(raw, key, where))
    return text


def _plain(key: str, text: str, raw: Any, where: Location, digits: int | None = None) -> None:
    """ASCII without blanks or control characters, and no digit run longer than ``digits``
    (MAX_DIGITS when not given; a spec reads it once for all its values).

    The value's own line is looked up only for a refusal (every spec passes here)."""
    if not _PLAIN.match(text):
        raise SpecError(f"{key}={text!r} must be plain ASCII (digits 0-9, no blanks or "
                        "control characters)", _line(raw, key, where))
    runs = _DIGIT_RUN.findall(text)
    longest = max(map(len, runs)) if runs else 0
    if longest and longest > (MAX_DIGITS.value() if digits is None else digits):
        raise BadInput(MAX_DIGITS.refusal(f"{key}: a number of {longest} digits"),
                       _line(raw, key, where))


def _mask(value: Any, raw: Any, where: Location) -> int | None:
    """An x2apic-api mask, strictly 0xf or 15 (no 0x_f, no true); which bits the rules know
    is the resolver's business."""
    if value is None:
        return None
    loc = _line(raw, "x2apic-api", where)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SpecError(f"x2apic-api={_json_text(value)} is not a number (e.g. 0xf)", loc)
    if isinstance(value, str):
        text = value.strip()
        if not _MASK.match(text):
            raise SpecError(f"x2apic-api={text} is not a number (e.g. 0xf)", loc)
        digits = text[2:] if text[:2] in ("0x", "0X") else text
        if len(digits) > MAX_DIGITS.value():
            raise BadInput(MAX_DIGITS.refusal(f"x2apic-api: a number of {len(digits)} digits"), loc)
        value = int(text, 0)
    if not 0 <= value <= 0xFFFFFFFF:
        raise SpecError(f"x2apic-api={value} is out of range (a 32-bit mask)", loc)
    return value


def _json_text(value: Any) -> str:
    return "true" if value is True else "false" if value is False else repr(value)


def _choice(data: Mapping[str, Any], key: str, choices: tuple[str, ...], raw: Any,
            where: Location) -> str | None:
    value = data.get(key)
    if isinstance(value, bool):  # YAML 1.1 reads on/off as booleans
        value = "on" if value else "off"
    if value is None:
        return None
    if value not in choices:
        raise SpecError(f"{key}={value} is not one of {'|'.join(choices)}", _line(raw, key, where))
    return str(value)


def parse_host_spec(raw: str | Mapping[str, Any], where: Location) -> HostSpec:
    """A host spec from ``k=v,...`` text, a JSON file named by ``@path`` or a mapping.

    >>> h = parse_host_spec("kernel=6.12.40,qemu=10.2.0,seoib=rfc-v2", Location("host"))
    >>> h.kernel, h.qemu, h.seoib
    ('6.12.40', '10.2.0', 'rfc-v2')
    >>> parse_host_spec("kernel=6.12,colour=blue", Location("host"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    seoib.errors.SpecError: host: unknown host spec key 'colour' (known: name, kernel, ...)
    """
    data, where = _mapping(host_key_spec(raw), where)  # a matrix row key reads as its class
    _check_keys(data, HOST_KEYS, "host spec", raw, where)
    mask = _mask(data.get("x2apic-api"), raw, where)
    machines = data.get("machines")
    if machines is not None and (not isinstance(machines, list)
                                 or not all(isinstance(m, str) for m in machines)):
        raise SpecError("machines must be a list of machine type names", _line(raw, "machines", where))
    digits, chars = MAX_DIGITS.value(), MAX_VALUE_CHARS.value()  # environment read once per spec
    spec = HostSpec(_text(data, "name", raw, where, None, chars),
                    _text(data, "kernel", raw, where, digits, chars), mask,
                    _text(data, "qemu", raw, where, digits, chars),
                    _text(data, "seoib", raw, where, digits, chars),
                    tuple(machines) if machines is not None else None, where)
    if spec.kernel is not None and parse_release(spec.kernel) is None:
        # Checked here, not only by the resolver: a probed mask must not excuse garbage.
        raise SpecError(f"kernel {spec.kernel!r} is not a release number (expected MAJOR.MINOR[.PATCH])",
                        _line(raw, "kernel", where))
    if spec.qemu is None:
        raise SpecError("host spec needs qemu=<version>", where)
    if spec.kernel is None and spec.x2apic_api is None:
        raise SpecError("host spec needs kernel=<release> or x2apic-api=<probed mask>", where)
    return spec


def parse_vm_spec(raw: str | Mapping[str, Any], where: Location) -> VMSpec:
    """A VM spec from ``k=v,...`` text, a JSON file named by ``@path`` or a mapping.

    >>> v = parse_vm_spec("machine=q35,irqchip=split,x2apic=off,ioapic=17", Location("vm"))
    >>> v.machine, v.irqchip, v.x2apic, v.ioapic
    ('q35', 'split', False, '0x11')
    >>> parse_vm_spec("machine=q35,irqchip=maybe", Location("vm"))
    Traceback (most recent call last):
    ...
    seoib.errors.SpecError: vm: irqchip=maybe is not one of on|split|off
    """
    data, where = _mapping(vm_key_spec(raw), where)  # a matrix row key reads as its class
    _check_keys(data, VM_KEYS, "VM spec", raw, where)
    ioapic = data.get("ioapic")
    if ioapic is not None:
        normal = {"0x11": "0x11", "17": "0x11", "0x20": "0x20", "32": "0x20"}.get(
            str(ioapic).lower())
        if normal is None:
            raise SpecError(f"ioapic={ioapic} is not 0x11 or 0x20 (QEMU refuses other versions)",
                            _line(raw, "ioapic", where))
        ioapic = normal
    x2apic = data.get("x2apic")
    if x2apic is not None and not isinstance(x2apic, bool):
        if str(x2apic).lower() not in _ONOFF:
            raise SpecError(f"x2apic={x2apic} is not on or off", _line(raw, "x2apic", where))
        x2apic = _ONOFF[str(x2apic).lower()]
    digits, chars = MAX_DIGITS.value(), MAX_VALUE_CHARS.value()  # environment read once per spec
    spec = VMSpec(
        machine=_text(data, "machine", raw, where, digits, chars),
        irqchip=_choice(data, "irqchip", ("on", "split", "off"), raw, where),
        ioapic=ioapic,
        x2apic=x2apic,
        guest=_text(data, "guest", raw, where, digits, chars),
        seoib_policy=_choice(data, "seoib-policy", SEOIB_POLICIES, raw, where),
        name=_text(data, "name", raw, where, None, chars),
        origin=where,
    )
    if spec.machine is None:
        raise SpecError("VM spec needs machine=<type or alias>", where)
    return spec
