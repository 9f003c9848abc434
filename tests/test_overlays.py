"""Rule overlays: site directories merged over the built-in rules (seoib.rules.overlay)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seoib.cli import main
from seoib.errors import RuleError, SpecError
from seoib.paths import builtin_rules_dir
from seoib.rules.ruleset import load_rules

KERNEL_BUILD = """\
builds:
  - id: kernel.el9-5.14.0-611
    release: "5.14.0-611.el9"
    base: "5.14"
    capabilities: [seoib-enable, seoib-disable]
    description: RHEL 9.7 kernel with the SEOIB backport
    source: "site: vendor errata"
"""
QEMU_BUILD = """\
builds:
  - id: qemu.site-11.0-seoib
    version: "11.0.0+site1"
    base: "11.0"
    seoib: rfc-v2
    description: the site's 11.0 with the SEOIB RFC v2 applied
    source: "site build"
"""
DOWNSTREAM = """\
downstream:
  - id: acme
    description: ACME cloud machine types
    types: {acme-q35-2026: pc-q35-10.2}
    source: "site: ACME platform docs"
"""


def _dir(tmp: Path, name: str, **files: str) -> Path:
    d = tmp / name
    d.mkdir()
    for stem, text in files.items():
        (d / f"{stem}.yaml").write_text(text)
    return d


def _policy(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["policy", *argv, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out else {}


def test_overlays_add_builds_and_machine_types_without_copying_the_base(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _dir(tmp_path, "a", kernels=KERNEL_BUILD, qemu=QEMU_BUILD)
    b = _dir(tmp_path, "b", machines=DOWNSTREAM)
    code, v = _policy(capsys, "--rules", str(a), "--rules", str(b),
                      "--host", "kernel=5.14.0-611.el9,qemu=11.0.0+site1",
                      "--vm", "machine=acme-q35-2026,irqchip=split,guest=windows-hyperv")
    assert code == 0
    assert (v["policy"], v["outcome"], v["vm"]["machine"]) == ("respected", "ok", "acme-q35-2026")
    assert v["host"]["seoib"] == "rfc-v2" and v["witness"]["agrees"] is True


def test_seoib_rules_names_site_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    a = _dir(tmp_path, "a", kernels=KERNEL_BUILD)
    b = _dir(tmp_path, "b", machines=DOWNSTREAM)
    monkeypatch.setenv("SEOIB_RULES", f"{a}:{b}")
    code, v = _policy(capsys, "--host", "kernel=5.14.0-611.el9,qemu=11.0.0",
                      "--vm", "machine=acme-q35-2026")
    assert code == 0 and v["host"]["capabilities"] == [
        "seoib-disable", "seoib-enable", "split-irqchip", "x2apic-api"]


def test_a_later_overlay_replaces_an_entry_by_id(tmp_path: Path) -> None:
    a = _dir(tmp_path, "a", machines=DOWNSTREAM)
    b = _dir(tmp_path, "b", machines=DOWNSTREAM.replace("pc-q35-10.2", "pc-q35-2.7"))
    rs = load_rules([a, b], use_cache=False)
    host = rs.resolver.host(_host("kernel=7.0.3,qemu=11.0.0"))
    vm = rs.resolver.vm(_vm("machine=acme-q35-2026"), host)
    assert (vm.machine.follows, vm.ioapic) == ("pc-q35-2.7", "0x11")


def test_the_set_of_directories_identifies_the_rule_set(tmp_path: Path) -> None:
    a = _dir(tmp_path, "a", machines=DOWNSTREAM)
    base = load_rules(use_cache=False)
    over = load_rules([a], use_cache=False)
    assert over.digest != base.digest
    assert over.roots == (builtin_rules_dir(), a)
    # A complete rule directory is a base of its own: a copy digests like the original.
    copy = tmp_path / "copy"
    shutil.copytree(builtin_rules_dir(), copy)
    assert load_rules([a, copy], use_cache=False).digest == base.digest


def test_an_error_in_an_overlay_points_at_its_own_file_and_line(tmp_path: Path) -> None:
    bad = KERNEL_BUILD.replace("seoib-disable]", "seoib-disable, no-such-cap]")
    a = _dir(tmp_path, "a", kernels=bad)
    with pytest.raises(RuleError) as info:
        load_rules([a], use_cache=False)
    assert f"{a / 'kernels.yaml'}:2: " in str(info.value)
    assert "no-such-cap" in str(info.value)


def test_a_schema_error_in_an_overlay_points_at_its_line(tmp_path: Path) -> None:
    a = _dir(tmp_path, "a", qemu=QEMU_BUILD.replace('    seoib: rfc-v2\n', '    seoib: 7\n'))
    with pytest.raises(RuleError) as info:
        load_rules([a], use_cache=False)
    assert f"{a / 'qemu.yaml'}:5: " in str(info.value)


def test_no_message_points_into_the_installed_rules() -> None:
    rs = load_rules()
    for spec in ("kernel=6.1.0rc1,qemu=11.0.0", "kernel=3.10.0,qemu=11.0.0",
                 "kernel=7.0.3,qemu=10.3.0", "kernel=7.0.3,qemu=11.0.0+vendor"):
        with pytest.raises(SpecError) as info:
            rs.resolver.host(_host(spec))
        assert str(builtin_rules_dir()) not in str(info.value)
        assert "overlay" in str(info.value) or "x2apic-api" in str(info.value)
    with pytest.raises(SpecError) as info:
        rs.resolver.vm(_vm("machine=pc-q35-rhel99.0.0"), rs.resolver.host(_host(
            "kernel=7.0.3,qemu=11.0.0")))
    assert str(builtin_rules_dir()) not in str(info.value) and "overlay" in str(info.value)


def _host(text: str):  # type: ignore[no-untyped-def]
    from seoib.errors import Location
    from seoib.rules.specs import parse_host_spec

    return parse_host_spec(text, Location("--host"))


def _vm(text: str):  # type: ignore[no-untyped-def]
    from seoib.errors import Location
    from seoib.rules.specs import parse_vm_spec

    return parse_vm_spec(text, Location("--vm"))


def test_a_stage_file_in_an_overlay_replaces_the_base_one_and_names_its_own_file(
        tmp_path: Path) -> None:
    text = (builtin_rules_dir() / "boot.yaml").read_text()
    text = text.replace("when: {qemu.registers_machine: false}",
                        "when: {qemu.no_such_fact: false}", 1)
    a = _dir(tmp_path, "a", boot=text)
    with pytest.raises(RuleError) as info:
        load_rules([a], use_cache=False)
    assert f"{a / 'boot.yaml'}:" in str(info.value) and "no_such_fact" in str(info.value)
    assert str(builtin_rules_dir()) not in str(info.value)


def test_a_directory_without_every_data_file_is_an_overlay(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), d)
    (d / "queries.yaml").unlink()  # the base supplies it
    rs = load_rules([d], use_cache=False)
    assert rs.roots == (builtin_rules_dir(), d) and "policy" in rs.queries


def _downstream(pattern: str) -> str:
    return ("downstream:\n  - id: site\n    description: the site's machine types\n"
            f"    pattern: {json.dumps(pattern)}\n    source: \"site docs\"\n")


@pytest.mark.cases("patterns")
def test_a_downstream_pattern_matches_in_linear_time_or_is_refused(
        case: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overlay = _dir(tmp_path, "site", machines=_downstream(case.get("accept") or case["refuse"]))
    code = main(["rules", "validate", "--rules", str(overlay)])
    out, err = capsys.readouterr()
    if "refuse" in case:
        assert code == 3 and out == ""
        assert err.startswith(f"seoib: {overlay / 'machines.yaml'}:2: site: ") and err.count("\n") == 1
        for piece in case["error"]:
            assert piece in err, (piece, err)
        return
    assert code == 0, err
    from seoib.rules.ruleset import load_rules

    site = next(d for d in load_rules(overlay, use_cache=False).resolver.machines.downstream
                if d.id == "site")
    for name, upstream in case["names"].items():
        assert site.upstream_of(name) == upstream, name


def test_a_catastrophic_pattern_never_reaches_a_match(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`rules validate` used to hang: every listed downstream type was matched against it."""
    overlay = _dir(tmp_path, "site", machines=_downstream("^(?P<upstream>(x+x+)+)y$"))
    argv = ["--rules", str(overlay), "--host", "kernel=7.0.3,qemu=11.0.0", "--vm",
            "machine=" + "x" * 60]
    assert main(["rules", "validate", *argv[:2]]) == 3
    assert main(["policy", *argv]) == 3  # the name is never matched against it
    err = capsys.readouterr().err
    assert err.count("exponentially many ways") == 2


def test_a_pattern_longer_than_a_naming_scheme_is_refused() -> None:
    from seoib.rules.patterns import MAX_PATTERN, compile_name_pattern

    with pytest.raises(ValueError, match=f"at most {MAX_PATTERN}"):
        compile_name_pattern("^(?P<upstream>pc)" + "x" * MAX_PATTERN + "$")


def test_an_id_given_twice_in_an_overlay_is_an_error_at_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    twice = DOWNSTREAM + DOWNSTREAM.split("\n", 1)[1].replace("acme-q35-2026", "acme-q35-2027")
    overlay = _dir(tmp_path, "site", machines=twice)
    assert main(["rules", "validate", "--rules", str(overlay)]) == 3
    err = capsys.readouterr().err
    assert err == (f"seoib: {overlay / 'machines.yaml'}:6: downstream: id 'acme' is given twice "
                   "in this file (first at line 2)\n")


def test_an_id_given_twice_in_a_complete_rule_set_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), root)
    text = (root / "kernels.yaml").read_text()
    first = text.index("  - id: split-irqchip\n")
    end = text.index("  - id:", first + 1)
    (root / "kernels.yaml").write_text(text[:end] + text[first:end] + text[end:])
    assert main(["rules", "validate", str(root)]) == 3
    assert "id 'split-irqchip' is given twice in this file (first at line" in capsys.readouterr().err
