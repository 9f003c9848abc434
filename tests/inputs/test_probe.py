"""The host probe: fake ioctl and QEMU responders, plus one run on this machine as it is."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from engine.commands import probe as probe_cmd
from engine.errors import BadInput
from engine.inputs import probe as probe_mod
from engine.inputs.probe import (
    KVM_CAP_SPLIT_IRQCHIP,
    KVM_CAP_X2APIC_API,
    KVM_CHECK_EXTENSION,
    decode_x2apic_api,
    parse_machine_help,
    parse_qemu_version,
    probe_host,
)

HERE = Path(__file__).parent
HELP = HERE.parent / "fixtures" / "inputs" / "machine-help"
SCHEMA = json.loads((HERE.parent.parent / "schemas" / "probe-output.schema.json").read_text(encoding="utf-8"))
QEMU_CASES = yaml.safe_load((HERE / "probe_cases.yaml").read_text(encoding="utf-8"))["qemu"]


def validate(obj: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(obj)


class FakeKvm:
    """Answers KVM_CHECK_EXTENSION like a kernel would, and records what was asked."""

    def __init__(self, answers: dict[int, int]) -> None:
        self.answers = answers
        self.asked: list[int] = []

    def __call__(self, fd: int, cap: int) -> int:
        assert isinstance(fd, int) and fd >= 0
        self.asked.append(cap)
        return self.answers.get(cap, 0)


def fake_qemu(version_file: str, help_file: str):
    def run(argv: Sequence[str]) -> tuple[int, str]:
        if list(argv[1:]) == ["--version"]:
            return 0, (HELP / version_file).read_text(encoding="utf-8")
        if list(argv[1:]) == ["-machine", "help"]:
            return 0, (HELP / help_file).read_text(encoding="utf-8")
        raise AssertionError(f"unexpected QEMU run {argv}")

    return run


def no_qemu(argv: Sequence[str]) -> tuple[int, str]:
    raise FileNotFoundError(2, "No such file or directory", argv[0])


@pytest.fixture
def kvm_node(tmp_path: Path) -> str:
    # A stand-in for /dev/kvm that os.open accepts; the fake ioctl does the answering.
    node = tmp_path / "kvm"
    node.write_bytes(b"")
    return str(node)


def test_uapi_numbers() -> None:
    # include/uapi/linux/kvm.h: KVMIO 0xAE, KVM_CHECK_EXTENSION _IO(KVMIO, 0x03).
    assert KVM_CHECK_EXTENSION == 0xAE03
    assert (KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_X2APIC_API) == (121, 129)


@pytest.mark.parametrize(
    ("mask", "names"),
    [
        (0x0, []),
        (0x3, ["USE_32BIT_IDS", "DISABLE_BROADCAST_QUIRK"]),
        (0xB, ["USE_32BIT_IDS", "DISABLE_BROADCAST_QUIRK", "DISABLE_SUPPRESS_EOI_BROADCAST"]),
        (0x10, ["BIT4"]),
    ],
)
def test_decode_x2apic_api(mask: int, names: list[str]) -> None:
    assert decode_x2apic_api(mask) == names


@pytest.mark.parametrize(("mask", "text"), [(0xF, "0xf"), (0x3, "0x3"), (0x0, "0x0")])
def test_probe_with_fake_kvm(kvm_node: str, mask: int, text: str) -> None:
    kvm = FakeKvm({KVM_CAP_X2APIC_API: mask, KVM_CAP_SPLIT_IRQCHIP: 1})
    result = probe_host(kvm_path=kvm_node, ioctl=kvm, qemu_binary="qemu", run=no_qemu_note)
    assert kvm.asked == [KVM_CAP_X2APIC_API, KVM_CAP_SPLIT_IRQCHIP]
    assert result.spec["x2apic-api"] == text
    assert any(f"= {text}" in n for n in result.notes)
    validate(result.to_dict())


def no_qemu_note(argv: Sequence[str]) -> tuple[int, str]:
    return 0, "QEMU emulator version 9.2.0\n" if argv[1] == "--version" else "garbage\n"


def test_kvm_absent(tmp_path: Path) -> None:
    def never(fd: int, cap: int) -> int:
        raise AssertionError("no ioctl without a device")

    result = probe_host(kvm_path=str(tmp_path / "nope"), ioctl=never, qemu_binary="q", run=no_qemu_note)
    assert "x2apic-api" not in result.spec
    assert any("is absent" in n and "version inference" in n for n in result.notes)


def test_kvm_not_permitted(monkeypatch: pytest.MonkeyPatch, kvm_node: str) -> None:
    def denied(path: str, flags: int) -> int:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(probe_mod.os, "open", denied)
    result = probe_host(kvm_path=kvm_node, qemu_binary="q", run=no_qemu_note)
    assert "x2apic-api" not in result.spec
    assert any("permission denied" in n for n in result.notes)


def test_real_ioctl_on_a_regular_file_is_enotty(kvm_node: str) -> None:
    # The real fcntl.ioctl path: a plain file is not a KVM device.
    result = probe_host(kvm_path=kvm_node, qemu_binary="q", run=no_qemu_note)
    assert "x2apic-api" not in result.spec
    assert any("not a KVM device" in n for n in result.notes)


@pytest.mark.parametrize("case", QEMU_CASES, ids=lambda c: c["machine_help"])
def test_qemu_outputs(kvm_node: str, case: dict[str, Any]) -> None:
    text = (HELP / case["version"]).read_text(encoding="utf-8")
    version, package = parse_qemu_version(text)
    assert version == case["qemu"]
    if "package" in case:
        assert package == case["package"]
    machines, aliases, default = parse_machine_help((HELP / case["machine_help"]).read_text(encoding="utf-8"))
    assert aliases == case["aliases"]
    assert default == case["default"]
    assert set(case["has"]) <= set(machines)
    assert not set(case["not"]) & set(machines)
    assert len(machines) == len(set(machines))

    result = probe_host(
        kvm_path=kvm_node,
        ioctl=FakeKvm({KVM_CAP_X2APIC_API: 0x3}),
        qemu_binary="/opt/qemu/bin/qemu-system-x86_64",
        run=fake_qemu(case["version"], case["machine_help"]),
    )
    assert result.spec["qemu"] == case["qemu"]
    assert result.spec["machines"] == sorted(machines)
    assert result.spec["aliases"] == case["aliases"]
    validate(result.to_dict())


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("QEMU emulator version 9.1\n", "9.1.0"),
        ("QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u12)\n", "7.2.15"),
    ],
)
def test_parse_qemu_version(text: str, version: str) -> None:
    assert parse_qemu_version(text)[0] == version


@pytest.mark.parametrize("text", ["", "qemu-img version 8.2.2\n", "Usage: qemu"])
def test_parse_qemu_version_refuses_other_output(text: str) -> None:
    with pytest.raises(ValueError):
        parse_qemu_version(text)


def test_parse_machine_help_needs_header() -> None:
    with pytest.raises(ValueError):
        parse_machine_help("pc  Standard PC\n")


def test_explicit_qemu_that_cannot_run_is_bad_input(kvm_node: str) -> None:
    with pytest.raises(BadInput, match="cannot run /no/such/qemu") as info:
        probe_host(kvm_path=kvm_node, ioctl=FakeKvm({}), qemu_binary="/no/such/qemu", run=no_qemu)
    assert info.value.exit_code == 3


def test_explicit_binary_that_is_not_qemu(kvm_node: str) -> None:
    with pytest.raises(BadInput, match="does not say 'QEMU emulator version'"):
        probe_host(kvm_path=kvm_node, ioctl=FakeKvm({}), qemu_binary="/bin/true", run=lambda argv: (0, ""))


def test_no_qemu_on_path_is_a_note(monkeypatch: pytest.MonkeyPatch, kvm_node: str) -> None:
    monkeypatch.setattr(probe_mod.shutil, "which", lambda name: None)
    result = probe_host(kvm_path=kvm_node, ioctl=FakeKvm({}), run=no_qemu)
    assert "qemu" not in result.spec and "machines" not in result.spec
    assert any("no QEMU binary found" in n for n in result.notes)


def test_qemu_found_on_path_that_fails_is_a_note(monkeypatch: pytest.MonkeyPatch, kvm_node: str) -> None:
    monkeypatch.setattr(probe_mod.shutil, "which", lambda name: f"/usr/bin/{name}")
    result = probe_host(kvm_path=kvm_node, ioctl=FakeKvm({}), run=no_qemu)
    assert "qemu" not in result.spec
    assert any("cannot run /usr/bin/qemu-system-x86_64" in n for n in result.notes)


def test_json_is_deterministic(kvm_node: str) -> None:
    def once() -> str:
        return probe_host(
            kvm_path=kvm_node,
            ioctl=FakeKvm({KVM_CAP_X2APIC_API: 0xF}),
            qemu_binary="qemu-system-x86_64",
            run=fake_qemu("version-10.1.txt", "qemu-10.1.txt"),
        ).to_json()

    first = once()
    assert first == once()
    data = json.loads(first)
    validate(data)
    assert set(data) == {"name", "kernel", "x2apic-api", "qemu", "machines", "aliases", "notes"}


def test_probe_on_this_machine_as_it_is() -> None:
    """No fakes: the real uname, /dev/kvm and PATH of whatever runs the tests."""
    result = probe_host()
    data = result.to_dict()
    validate(data)
    assert data["kernel"] == os.uname().release
    usable = os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)
    if usable:
        # Bits 0-1 exist since KVM_CAP_X2APIC_API does; bits above 3 are not defined.
        mask = int(data["x2apic-api"], 16)
        assert mask & 0x3 == 0x3 and mask < 0x10
    else:
        assert "x2apic-api" not in data
        assert any("version inference" in n for n in result.notes)


def _args(**kw: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    probe_cmd.add_arguments(parser)
    argv = [f"--{k}={v}" for k, v in kw.items()]
    return parser.parse_args(argv)


def test_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe_cmd.run(_args(format="json")) == 0
    validate(json.loads(capsys.readouterr().out))


def test_command_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert probe_cmd.run(_args(kvm=str(tmp_path / "absent"))) == 0
    out = capsys.readouterr().out
    assert f"kernel      {os.uname().release}" in out
    assert "x2apic-api  not probed" in out
    assert "is absent" in out


def test_command_defaults() -> None:
    args = _args()
    assert (args.format, args.qemu, args.kvm) == ("text", None, "/dev/kvm")
    with pytest.raises(SystemExit):
        _args(format="yaml")
