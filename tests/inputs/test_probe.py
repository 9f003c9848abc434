"""The host probe: fake ioctl and QEMU responders, plus one run on this machine as it is."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from seoib import cli
from seoib.commands import probe as probe_cmd
from seoib.errors import BadInput
from seoib.inputs import probe as probe_mod
from seoib.inputs.labels import check_label, label_value, probe_labels, render_labels
from seoib.inputs.probe import (
    KVM_CAP_SPLIT_IRQCHIP,
    KVM_CAP_X2APIC_API,
    KVM_CHECK_EXTENSION,
    SECTIONS,
    ProbeResult,
    decode_x2apic_api,
    parse_machine_help,
    parse_qemu_version,
    probe_host,
)
from seoib.rules.ruleset import load_rules

HERE = Path(__file__).parent
HELP = HERE.parent / "fixtures" / "inputs" / "machine-help"
SCHEMA = json.loads((HERE.parent.parent / "schemas" / "probe-output.schema.json").read_text(encoding="utf-8"))
QEMU_CASES = yaml.safe_load((HERE / "probe_cases.yaml").read_text(encoding="utf-8"))["qemu"]
# Fake runners answer --version and -machine help only: leave out the QMP section.
# Sections that start QEMU or run a guest on the real /dev/kvm stay out of the unit tests.
NO_QMP = [s for s in SECTIONS if s[0] not in ("qemu_machines", "kvm_host")]


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
        sections=NO_QMP,
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
            sections=NO_QMP,
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
    code = probe_cmd.run(_args(format="json"))
    data = json.loads(capsys.readouterr().out)
    validate(data)
    # Exit 1 exactly when a measured fact disagrees with the rules.
    assert code == (1 if data.get("warnings") else 0)


def test_command_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = probe_cmd.run(_args(kvm=str(tmp_path / "absent")))
    out, err = capsys.readouterr()
    assert f"kernel      {os.uname().release}" in out
    assert "x2apic-api  not probed" in out
    assert "is absent" in out
    # Without KVM only the release speaks for the kernel: a probe that cannot judge it
    # (a label would be unknown) says so and exits 1, never 0.
    assert code == (1 if "the probe cannot judge this host" in err else 0)


def test_command_defaults() -> None:
    args = _args()
    assert (args.format, args.qemu, args.kvm) == ("text", None, "/dev/kvm")
    with pytest.raises(SystemExit):
        _args(format="yaml")


# --- sections, bounded QEMU runs, the machine facts, the host-file round trip, labels ---

STAND_IN = """
import json, os, sys
args = sys.argv[1:]
if args == ["--version"]:
    sys.stdout.write(open(os.environ["FAKE_VERSION"]).read())
elif args == ["-machine", "help"]:
    sys.stdout.write(open(os.environ["FAKE_HELP"]).read())
elif "-qmp" in args and os.environ.get("FAKE_QMP"):
    machines = json.loads(os.environ["FAKE_QMP"])
    print(json.dumps({"QMP": {"version": {}, "capabilities": []}}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)["execute"]
        if cmd == "query-machines":
            print(json.dumps({"return": machines}), flush=True)
        elif cmd == "quit":
            break
        else:
            print(json.dumps({"return": {}}), flush=True)
    if args[args.index("-machine") + 1] != "none":
        sys.exit(0)
else:
    sys.stderr.write("qemu-system-x86_64: -machine: this stand-in starts no machine\\n")
    sys.exit(1)
"""


def stand_in_qemu(tmp_path: Path, body: str = STAND_IN) -> str:
    path = tmp_path / "qemu-system-x86_64"
    path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VERSION", str(HELP / "version-10.1.txt"))
    monkeypatch.setenv("FAKE_HELP", str(HELP / "qemu-10.1.txt"))


def test_sections_run_in_order_and_a_new_one_is_one_entry(kvm_node: str) -> None:
    assert [name for name, _ in SECTIONS] == ["kvm", "kvm_host", "qemu", "qemu_machines"]
    seen: list[str] = []

    def extra(ctx: probe_mod.ProbeContext) -> None:
        seen.append(ctx.spec["x2apic-api"])
        ctx.measured["extra"] = {"ran": True}
        ctx.text.append(("extra", "measured"))

    result = probe_host(kvm_path=kvm_node, ioctl=FakeKvm({KVM_CAP_X2APIC_API: 0xF}), qemu_binary="q",
                        run=no_qemu_note, sections=[*NO_QMP, ("extra", extra)])
    assert seen == ["0xf"]
    assert result.to_dict()["measured"] == {"extra": {"ran": True}}
    assert "extra       measured" in result.to_text()
    validate(result.to_dict())


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("body", "says"), [
    ("import sys\nwhile True: sys.stdout.write('QEMU emulator version 9.9.9 ' * 4096)\n",
     "more than 1048576 bytes of output (flooding, killed)"),
    ("import time\ntime.sleep(120)\n", "no answer within the time limit (killed)"),
], ids=["floods stdout", "hangs"])
def test_a_named_binary_that_floods_or_hangs_is_one_line_and_exit_3(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, says: str) -> None:
    binary = stand_in_qemu(tmp_path, body)
    code, out, err = run_cli(["probe", "--qemu", binary, "--timeout", "1"], capsys)
    assert code == 3
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("seoib: --qemu: ") and says in err


def test_a_flooding_binary_found_on_path_is_a_note(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = stand_in_qemu(tmp_path, "import sys\nwhile True: sys.stdout.write('x' * 65536)\n")
    monkeypatch.setattr(probe_mod.shutil, "which", lambda name: binary)
    result = probe_host(kvm_path=str(tmp_path / "absent"), timeout=5)
    assert "qemu" not in result.spec
    assert any("flooding" in n and "qemu omitted" in n for n in result.notes)


def test_machine_facts_disagreeing_with_the_rules_are_warnings(
        tmp_path: Path, kvm_node: str, fake_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A QEMU 10.1 whose machine list differs from what rules/qemu.yaml says 10.1 registers."""
    listed = [{"name": "pc-q35-4.1"}, {"name": "pc-q35-10.0", "alias": "q35"},
              {"name": "pc-i440fx-10.1", "alias": "pc", "is-default": True}, {"name": "microvm"}]
    monkeypatch.setenv("FAKE_QMP", json.dumps(listed))
    result = probe_host(kvm_path=kvm_node, ioctl=FakeKvm({KVM_CAP_X2APIC_API: 0xF}),
                        qemu_binary=stand_in_qemu(tmp_path), rules=load_rules)
    warnings = "\n".join(result.warnings)
    assert "pc-q35-4.1: the rules say QEMU 10.1 does not register it; the binary does" in warnings
    assert "pc-q35-10.1: the rules say QEMU 10.1 registers it; the binary does not" in warnings
    assert "alias q35: the rules say pc-q35-10.1 on QEMU 10.1; the binary says pc-q35-10.0" in warnings
    # The stand-in starts no machine: each sampled type is a warning, not a crash.
    assert "pc-i440fx-10.1: QEMU did not start it" in warnings
    facts = result.measured["qemu_machines"]
    assert (facts["registered"], facts["default"]) == (4, "pc-i440fx-10.1")
    validate(result.to_dict())


@pytest.fixture
def real_qemu() -> str:
    binary = shutil.which("qemu-system-x86_64")
    if binary is None:
        pytest.skip("no qemu-system-x86_64 on PATH (CI installs Debian's)")
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as err:
        pytest.skip(f"/dev/kvm cannot be opened ({err.strerror}): machine facts need KVM")
    return binary


def test_machine_facts_of_the_installed_qemu_agree_with_the_rules(real_qemu: str) -> None:
    result = probe_host(qemu_binary=real_qemu, rules=load_rules)
    facts = result.measured["qemu_machines"]
    assert facts["checked"], result.notes
    machine_warnings = [w for w in result.warnings if "alias" not in w and "register" not in w]
    assert not machine_warnings
    assert all(c["agrees"] for c in facts["checked"])
    # The default type, in its default mode, is among the starts.
    assert any(c["machine"] == facts["default"] and c["kernel_irqchip"] == "default"
               for c in facts["checked"])
    validate(result.to_dict())


def test_probe_text_leads_to_a_host_file_that_drives_policy(
        tmp_path: Path, fake_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Text -> the command it names -> a host file -> seoib policy, end to end."""
    usable = os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)
    binary = stand_in_qemu(tmp_path)
    code, text, _ = run_cli(["probe", "--qemu", binary], capsys)
    assert code == 0
    howto = text.strip().splitlines()[-1]
    assert howto.startswith("host file:")
    command = re.search(r"`seoib (probe --format json) > (\S+)`.*`--host @(\S+)`", howto)
    assert command is not None and command.group(2) == command.group(3)
    code, data, _ = run_cli([*command.group(1).split(), "--qemu", binary], capsys)
    assert code == 0
    host_file = tmp_path / command.group(2)
    host_file.write_text(data, encoding="utf-8")
    overrides = "" if usable else ",x2apic-api=0x3"  # without KVM the kernel release may be unknown
    code, out, err = run_cli(["policy", "--host", f"@{host_file}{overrides}", "--vm", "machine=q35",
                              "--format", "json"], capsys)
    assert code in (0, 1, 2), err
    verdict = json.loads(out)
    assert verdict["host"]["qemu"] == "10.1.0"
    assert verdict["vm"]["machine"] == "pc-q35-10.1"
    assert verdict["host"]["x2apic_api_probed"] is True


K8S_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
K8S_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
K8S_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def assert_kubernetes_label(line: str) -> tuple[str, str]:
    key, eq, value = line.partition("=")
    prefix, slash, name = key.partition("/")
    assert eq and slash, line
    assert len(prefix) <= 253 and K8S_PREFIX.match(prefix), line
    assert len(name) <= 63 and K8S_NAME.match(name), line
    assert len(value) <= 63 and K8S_VALUE.match(value), line
    return name, value


LABEL_CASES = [
    ({"name": "h", "kernel": "7.0.3", "qemu": "11.0.0"},
     {"x2apic-api": "none", "kernel.seoib-enable": "true", "seoib": "none", "qemu": "11.0.0",
      "kernel-class": "7.0"}),
    ({"name": "h", "kernel": "6.12.40", "x2apic-api": "0x3", "qemu": "10.1.0"},
     {"x2apic-api": "0x3", "kernel.seoib-enable": "false", "kernel.x2apic-api": "true",
      "seoib": "none"}),
    ({"name": "h", "kernel": "6.18.44-fc-v657", "x2apic-api": "0xf", "qemu": "7.2.22"},
     {"x2apic-api": "0xf", "kernel.seoib-disable": "true", "seoib": "none",
      "stack-class": "k7.0_q7.2_none", "qemu": "7.2.22"}),
    # A release between two listed ones that never existed: not inferred, so unknown.
    ({"name": "h", "kernel": "6.18.44-fc-v657", "x2apic-api": "0xf", "qemu": "10.3.0"},
     {"x2apic-api": "0xf", "seoib": "unknown", "stack-class": "unknown", "qemu": "10.3.0"}),
    ({"name": "h", "kernel": "weird+kernel~build"},
     {"qemu": "unknown", "seoib": "unknown", "kernel.seoib-enable": "unknown",
      "kernel-class": "unknown"}),
]


@pytest.mark.parametrize(("spec", "expected"), LABEL_CASES,
                         ids=["release only", "old kernel probed", "this machine's probe", "qemu unknown",
                              "nothing probed"])
def test_labels_are_kubernetes_valid_and_say_what_the_host_is(
        spec: dict[str, Any], expected: dict[str, str]) -> None:
    labels, notes = probe_labels(ProbeResult(spec=spec), load_rules(), prefix="seoib.dev")
    lines = render_labels(labels).splitlines()
    got = dict(assert_kubernetes_label(line) for line in lines)
    assert expected.items() <= got.items()
    assert {"x2apic-api", "seoib", "kernel-class", "stack-class", "qemu"} <= set(got)
    if "unknown" in got.values():
        assert notes


@pytest.mark.parametrize(("key", "value"), [
    ("seoib.dev/" + "n" * 64, "x"), ("seoib.dev/-x", "x"), ("Seoib.dev/x", "x"),
    ("seoib.dev/x", "a b"), ("seoib.dev/x", "-a"), ("seoib.dev/x", "v" * 64)])
def test_invalid_labels_are_refused(key: str, value: str) -> None:
    with pytest.raises(ValueError):
        check_label(key, value)


def test_label_value_makes_any_text_valid() -> None:
    for text in ["6.18.44-fc-v657", "k7.0_q11.0.0_rfc-v2", "+weird~", "x" * 200, "::", ""]:
        value = label_value(text)
        assert len(value) <= 63 and K8S_VALUE.match(value)


def test_command_labels_on_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["probe", "--format", "labels"], capsys)
    assert code in (0, 1)
    names = dict(assert_kubernetes_label(line) for line in out.splitlines())
    assert {"x2apic-api", "seoib", "kernel-class", "stack-class", "qemu"} <= set(names)


def test_the_machine_section_keeps_to_its_budget(
        tmp_path: Path, kvm_node: str, fake_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from seoib.inputs import probe_machines

    listed = [{"name": "pc-q35-10.1", "alias": "q35"}, {"name": "pc-i440fx-10.1", "is-default": True}]
    monkeypatch.setenv("FAKE_QMP", json.dumps(listed))
    monkeypatch.setattr(probe_machines, "BUDGET", 0.0)
    result = probe_host(kvm_path=kvm_node, ioctl=FakeKvm({KVM_CAP_X2APIC_API: 0xF}),
                        qemu_binary=stand_in_qemu(tmp_path), rules=load_rules)
    assert result.measured["qemu_machines"]["checked"] == []
    assert any("budget was spent after 0 of 6 paused starts" in n for n in result.notes), result.notes
    assert not [w for w in result.warnings if "did not start" in w]
    assert "checked     no paused start completed (see notes)" in result.to_text()


def test_the_kvm_host_section_says_which_kvm_answered(kvm_node: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from seoib.kvmhost import host

    monkeypatch.setattr(host, "detect", lambda path: host.KvmHost(
        "pvm", "kvm_pvm", ("module kvm_pvm loaded",), True))
    result = probe_host(kvm_path=kvm_node, ioctl=FakeKvm({KVM_CAP_X2APIC_API: 0xF}),
                        sections=[s for s in SECTIONS if s[0] in ("kvm", "kvm_host")])
    assert result.measured["kvm_host"] == {"implementation": "pvm", "module": "kvm_pvm",
                                           "eoi_at_delivery": True, "evidence": ["module kvm_pvm loaded"]}
    validate(json.loads(result.to_json()))
    assert "kvm         pvm (kvm_pvm), EOI processed at delivery" in result.to_text()
