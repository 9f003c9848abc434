"""Hypothesis properties of the readers below the CLI: any text is a value or a SeoibError.

The mutation fuzz test drives whole commands; these go wider on the parsers
themselves (thousands of inputs a second): no other exception ever escapes,
and what parses keeps the promises the rest of the engine relies on.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from seoib.errors import Location, SeoibError
from seoib.files import MAX_DEPTH, MAX_DIGITS, loads_json
from seoib.rules.specs import parse_host_spec, parse_vm_spec
from seoib.rules.versions import parse_release
from seoib.yamlio import loads_yaml

HERE = Location("--test")
# Spec-shaped text: keys, separators and values of any Unicode, digits of any script.
_PIECES = st.sampled_from(["kernel=", "qemu=", "x2apic-api=", "machine=", "name=", "seoib=",
                           "irqchip=", "ioapic=", ",", "=", ".", "0x", "7.0.3", "11.0", "pc-q35-",
                           "\u0667", "\uff11", "9" * 30, "_", " ", "\n", "\x1b"])
SPEC_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(SPEC_TEXT)
@example("@\x00")  # a NUL in a file name: os.open raises ValueError, not OSError
def test_host_specs_parse_or_refuse(text: str) -> None:
    try:
        spec = parse_host_spec(text, HERE)
    except SeoibError:
        return
    assert spec.qemu is not None and (spec.kernel is not None or spec.x2apic_api is not None)
    if spec.x2apic_api is not None:
        assert 0 <= spec.x2apic_api <= 0xFFFFFFFF
    if spec.kernel is not None:
        assert parse_release(spec.kernel) is not None and spec.kernel.isascii()


@settings(max_examples=300, deadline=None)
@given(SPEC_TEXT)
def test_vm_specs_parse_or_refuse(text: str) -> None:
    try:
        spec = parse_vm_spec(text, HERE)
    except SeoibError:
        return
    assert spec.machine is not None and spec.machine.isascii() and spec.machine.isprintable()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_releases_are_ascii_and_short(text: str) -> None:
    rel = parse_release(text)
    if rel is not None:
        assert text.isascii() and all(0 <= p < 10**9 for p in rel.parts)


_JSONISH = st.lists(st.sampled_from(['{', '}', '[', ']', '"a"', ':', ',', '1', '9' * 40, '-',
                                     '1e999', 'NaN', 'true', 'null', '"\\u0000"', ' ']),
                    max_size=80).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_JSONISH, st.just("[" * 5000 + "]" * 5000)))
def test_json_parses_or_refuses(text: str) -> None:
    try:
        value = loads_json(text, HERE)
    except SeoibError:
        return
    assert _depth(value) <= MAX_DEPTH.value() and _digits(value) <= MAX_DIGITS.value()


_YAMLISH = st.lists(st.sampled_from(["a: ", "- ", "&x ", "*x ", "[", "]", "{", "}", ", ", "\n",
                                     "  ", "1", "9" * 40, "!!str ", "!!python/object ", ": ",
                                     "'", '"', "\t", "\x00", "\u0667"]),
                    max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_YAMLISH, st.just("[" * 100 + "]" * 100), st.just("a:\n" + "".join(
    " " * i + "a:\n" for i in range(1, 90)))))
def test_yaml_parses_or_refuses(text: str) -> None:
    try:
        value = loads_yaml(text, "test.yaml", allow_empty=True)
    except SeoibError:
        return
    assert _depth(value) <= MAX_DEPTH.value() and _digits(value) <= MAX_DIGITS.value()


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _digits(value: object) -> int:
    """The longest integer anywhere in ``value``, in digits."""
    if isinstance(value, dict):
        return max((_digits(v) for v in [*value.keys(), *value.values()]), default=0)
    if isinstance(value, list):
        return max((_digits(v) for v in value), default=0)
    if isinstance(value, int) and not isinstance(value, bool):
        return len(str(abs(value)))
    return 0
