"""Value parsers for scenario YAML: each checks one value and names its location on failure.

Every parser returns the normalised value or raises :class:`BadInput` with the
``Location`` it was given, so a scenario error always reads ``file:line: message``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from seoib.errors import BadInput, Location
from seoib.yamlio import line_of

__all__ = [
    "as_bit_map",
    "as_bool",
    "as_choice",
    "as_int",
    "as_ioapic_version",
    "as_irqchip",
    "as_mapping",
    "as_version",
    "sub_loc",
]

_TRUE = ("on", "yes", "true", "1")
_FALSE = ("off", "no", "false", "0")


def sub_loc(arg: Any, key: Any, loc: Location) -> Location:
    """The location of ``arg[key]`` (the line of the key when YAML recorded it, else ``loc``'s)."""
    return Location(loc.source, line_of(arg, key, loc.line))


def as_int(value: Any, what: str, loc: Location, lo: int = 0, hi: int | None = None) -> int:
    """An integer (or an ASCII integer string, any base prefix) in ``lo..hi``."""
    if isinstance(value, bool):
        raise BadInput(f"{what} must be an integer, got {value!r}", loc)
    if isinstance(value, str):
        try:
            if not value.isascii():  # int() would read Arabic-Indic or full-width digits
                raise ValueError(value)
            value = int(value.strip(), 0)
        except ValueError:
            raise BadInput(f"{what} must be an integer, got {value!r}", loc) from None
    if not isinstance(value, int):
        raise BadInput(f"{what} must be an integer, got {type(value).__name__} {value!r}", loc)
    if value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise BadInput(f"{what} must be in {bound}, got {value}", loc)
    return value


def as_bool(value: Any, what: str, loc: Location) -> bool:
    """A boolean: YAML's own, 0/1, or on/off, yes/no, true/false."""
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
    raise BadInput(f"{what} must be a boolean (on/off, true/false), got {value!r}", loc)


def as_choice(value: Any, what: str, choices: tuple[str, ...], loc: Location) -> str:
    """One of ``choices``, exactly."""
    if isinstance(value, str) and value in choices:
        return value
    raise BadInput(f"{what} must be one of {', '.join(choices)}; got {value!r}", loc)


def as_version(value: Any, what: str, loc: Location) -> tuple[int, ...] | None:
    """A dotted version (string, integer or list of integers) as a tuple; None stays None."""
    if value is None:
        return None
    if isinstance(value, float):
        # YAML reads an unquoted N.10 as the float N.1: refuse rather than guess.
        raise BadInput(f"{what}: write the version as a string, e.g. '{value}'", loc)
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
    raise BadInput(f"{what} must be a dotted version string, got {value!r}", loc)


def as_irqchip(value: Any, loc: Location) -> str:
    """``on``, ``split`` or ``off`` (YAML's bare on/off arrive as booleans)."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    return as_choice(value, "irqchip", ("on", "split", "off"), loc)


def as_ioapic_version(value: Any, what: str, loc: Location) -> int:
    """An IOAPIC version register value QEMU models: 0x11 or 0x20."""
    version = as_int(value, what, loc)
    if version not in (0x11, 0x20):
        raise BadInput(f"{what} must be 0x11 or 0x20, got {version:#x}", loc)
    return version


def as_mapping(arg: Any, name: str, keys: tuple[str, ...], required: tuple[str, ...], loc: Location) -> dict:
    """A step argument mapping with only ``keys`` and at least ``required``."""
    if not isinstance(arg, Mapping):
        raise BadInput(f"{name}: expected a mapping with {', '.join(keys)}, got {arg!r}", loc)
    for key in arg:
        if key not in keys:
            raise BadInput(f"{name}: unknown key {key!r} (known: {', '.join(keys)})", sub_loc(arg, key, loc))
    for key in required:
        if key not in arg:
            raise BadInput(f"{name}: missing {key!r}", loc)
    return dict(arg)


def as_bit_map(arg: Any, what: str, loc: Location, hi: int, values: tuple[int, int] | None) -> dict[int, int]:
    """``{index: value}`` with index in 0..hi and value 0/1 (``values``) or a count."""
    if not isinstance(arg, Mapping) or not arg:
        raise BadInput(f"{what}: expected a mapping such as {{0x61: 1}}, got {arg!r}", loc)
    out = {}
    for key, value in arg.items():
        kloc = sub_loc(arg, key, loc)
        index = as_int(key, f"{what} key", kloc, 0, hi)
        if isinstance(value, bool) and values is not None:
            value = int(value)
        out[index] = as_int(value, f"{what}[{key}]", kloc, 0, 1 if values is not None else None)
    return out
