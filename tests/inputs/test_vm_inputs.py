"""Domain XML and QEMU command lines -> VM spec keys, driven by cases.yaml."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from seoib.errors import BadInput
from seoib.inputs import (
    VM_KEYS,
    VMInput,
    parse_domain_xml,
    parse_qemu_cmdline,
    parse_qemu_cmdline_file,
)
from seoib.inputs.qemu_cmdline import split_command_line, split_opts

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures" / "inputs"
CASES = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))


def _read(path: Path) -> VMInput:
    return parse_domain_xml(str(path)) if path.suffix == ".xml" else parse_qemu_cmdline_file(str(path))


def _check(result: VMInput, case: dict[str, Any]) -> None:
    assert result.spec == {k: str(v) for k, v in case["spec"].items()}
    assert set(result.spec) <= set(VM_KEYS)
    text = "\n".join(result.notes)
    for needle in case.get("notes", []):
        assert needle in text, f"{needle!r} not in notes:\n{text}"
    for needle in case.get("no_notes", []):
        assert needle not in text
    demands = "\n".join(r[2] for r in result.requires)
    for needle in case.get("requires", []):
        assert needle in demands, f"{needle!r} not in requirements:\n{demands}"
    for needle in case.get("no_requires", []):
        assert needle not in demands
    if "requires" not in case:
        assert result.requires == (), "a requirement the case does not name"


@pytest.mark.parametrize("case", CASES["domain_xml"], ids=lambda c: c["file"])
def test_domain_xml(case: dict[str, Any]) -> None:
    path = FIXTURES / case["file"]
    result = parse_domain_xml(str(path))
    assert result.source == str(path)
    _check(result, case)


@pytest.mark.parametrize("case", CASES["cmdline_files"], ids=lambda c: c["file"])
def test_cmdline_file(case: dict[str, Any]) -> None:
    path = FIXTURES / case["file"]
    result = parse_qemu_cmdline_file(str(path))
    assert result.source == str(path)
    _check(result, case)


@pytest.mark.parametrize("case", CASES["cmdline_text"], ids=lambda c: c["text"])
def test_cmdline_text(case: dict[str, Any]) -> None:
    result = parse_qemu_cmdline(case["text"])
    assert result.source == "command line"
    _check(result, case)


@pytest.mark.parametrize("case", CASES["bad_text"], ids=lambda c: c["text"])
def test_text_that_is_not_a_command_line_or_that_qemu_refuses(case: dict[str, Any]) -> None:
    with pytest.raises(BadInput) as info:
        parse_qemu_cmdline(case["text"])
    assert info.value.exit_code == 3
    assert case["error"] in info.value.message


@pytest.mark.parametrize("case", CASES["bad"], ids=lambda c: c["file"])
def test_bad_input_has_location(case: dict[str, Any]) -> None:
    path = FIXTURES / case["file"]
    with pytest.raises(BadInput) as info:
        _read(path)
    err = info.value
    assert err.exit_code == 3
    assert case["error"] in err.message
    assert err.location is not None and err.location.source == str(path)
    assert err.location.line == case.get("line")
    assert str(err).startswith(f"{path}:{case['line']}: " if "line" in case else f"{path}: ")


def test_every_fixture_is_covered() -> None:
    """A fixture without a case would be dead weight; a case without a fixture fails above."""
    used = {c["file"] for section in ("domain_xml", "cmdline_files", "bad") for c in CASES[section]}
    on_disk = {
        str(p.relative_to(FIXTURES))
        for sub in ("xml", "cmdline", "hostile")
        for p in (FIXTURES / sub).iterdir()
    }
    assert on_disk - used == set()


def test_billion_laughs_is_refused_before_expansion() -> None:
    # Refused at the DOCTYPE: nothing is expanded, so this is fast and small.
    with pytest.raises(BadInput, match="DTD"):
        parse_domain_xml(str(FIXTURES / "hostile" / "billion-laughs.xml"))


def test_external_entity_never_reads_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    xml = tmp_path / "xxe.xml"
    xml.write_text(
        f'<!DOCTYPE domain [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        "<domain type='kvm'><name>&x;</name></domain>\n",
        encoding="utf-8",
    )
    with pytest.raises(BadInput) as info:
        parse_domain_xml(str(xml))
    assert "TOP-SECRET" not in str(info.value)


def test_oversized_xml_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"<domain type='kvm'>" + b" " * (4 * 1024 * 1024) + b"</domain>")
    with pytest.raises(BadInput, match="larger than"):
        parse_domain_xml(str(big))


def test_empty_command_line() -> None:
    with pytest.raises(BadInput, match="empty QEMU command line"):
        parse_qemu_cmdline("   \n")


def test_option_missing_its_argument() -> None:
    with pytest.raises(BadInput, match="-machine needs an argument"):
        parse_qemu_cmdline("qemu-system-x86_64 -accel kvm -machine")


@pytest.mark.parametrize("value", ["0x42", "0", "33", "banana", "0x"])
def test_ioapic_versions_qemu_refuses(value: str) -> None:
    with pytest.raises(BadInput, match="QEMU refuses it at realize"):
        parse_qemu_cmdline(f"qemu-system-x86_64 -global ioapic.version={value}")


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("q35,accel=kvm", ["q35", "accel=kvm"]),
        ("a,,b,c", ["a,b", "c"]),
        ("a,,,,b", ["a,,b"]),
        ("x,", ["x"]),
        ("", []),
    ],
)
def test_split_opts_comma_escape(value: str, parts: list[str]) -> None:
    assert split_opts(value) == parts


@pytest.mark.parametrize(
    "file",
    sorted(p.name for p in (FIXTURES / "cmdline").iterdir()),
)
def test_continuations_split_like_a_shell(file: str) -> None:
    """Our continuation handling agrees with shlex on the joined single-line text."""
    text = (FIXTURES / "cmdline" / file).read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = " ".join(ln.removesuffix("\\").strip() for ln in lines)
    assert split_command_line("\n".join(lines)) == shlex.split(joined)


def test_unbalanced_quote_inline_has_no_line() -> None:
    with pytest.raises(BadInput, match="No closing quotation") as info:
        parse_qemu_cmdline("qemu-system-x86_64 -name 'oops")
    assert info.value.location is not None
    assert info.value.location.source == "command line"
    assert info.value.location.line == 1


def test_no_version_literals_in_engine_inputs() -> None:
    """Versions live in rules/ and fixtures; the readers must work for any release."""
    import re

    root = HERE.parent.parent / "seoib"
    files = [*sorted((root / "inputs").glob("*.py")), root / "commands" / "probe.py"]
    pattern = re.compile(r"\b\d+\.\d+\.\d+\b|\bpc-(?:q35|i440fx)-\d|\b[67]\.\d+\b")
    hits = [
        f"{f.name}:{n}: {line.strip()}"
        for f in files
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and "/1.0" not in line
    ]
    assert hits == []
