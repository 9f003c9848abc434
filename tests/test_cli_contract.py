"""The command line as CI scripts meet it: exit codes, JSON refusals, --quiet, --fields,
and output that cannot be written.

Every refusal with ``--format json`` is one JSON line on stderr in the decision
service's shape plus the exit code (schemas/error-output.schema.json); an output that
cannot be written (closed stdout, /dev/full, a reader that stopped reading) is exit 74
with one line; an output encoding that cannot show a character gets a stand-in, never a
crash; ``--quiet`` keeps the exit code and prints nothing; ``--fields`` prints just the
named values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from seoib.cli import COMMANDS, main
from seoib.commands import exits
from seoib.paths import schemas_dir

HOST = "kernel=7.0.3,qemu=11.0.0"
STORM_RISK = ["policy", "--host", HOST, "--vm", "machine=q35,irqchip=split"]  # exit 1
ERROR_SCHEMA = json.loads((schemas_dir() / "error-output.schema.json").read_text())


def _json_refusal(err: str, code: int) -> dict[str, Any]:
    assert err.count("\n") == 1 and err.endswith("\n"), err
    doc = json.loads(err)
    jsonschema.validate(doc, ERROR_SCHEMA)
    assert doc["error"]["exit_code"] == code
    return doc["error"]


@pytest.mark.parametrize("argv, location, words", [
    (["policy", "--host", "kernel=7.0.3", "--vm", "machine=q35"], "--host", "needs qemu"),
    (["policy", "--hots", HOST, "--vm", "machine=q35"], "policy", "unknown option --hots"),
    (["policy", "--host", HOST, "--vm", "machine=q35", "--field", "outcom"], "--fields",
     "no field 'outcom'"),
    (["probe", "--prefix", "example.com/seoib"], "probe", "not a DNS subdomain"),
])
def test_a_refusal_with_format_json_is_one_json_line(argv: list[str], location: str, words: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--format", "json"]) == 3
    out, err = capsys.readouterr()
    error = _json_refusal(err, 3)
    assert out == "" and error["location"] == location and words in error["message"]


def test_a_rule_set_refusal_lists_every_problem(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kernels.yaml").write_text("builds:\n  - {id: a}\n  - {id: b}\n")
    assert main(["policy", "--rules", str(tmp_path), *STORM_RISK[1:], "--format", "json"]) == 3
    error = _json_refusal(capsys.readouterr().err, 3)
    assert "kernels.yaml:2" in error["location"] and error["problems"]
    assert any("kernels.yaml:3" in p for p in error["problems"])


def test_an_internal_error_and_an_interrupt_in_json(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import seoib.commands.policy as policy

    def broken(args: Any) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.delenv("SEOIB_DEBUG", raising=False)
    monkeypatch.setattr(policy, "run", broken)
    assert main([*STORM_RISK, "--format", "json"]) == 70
    assert "ZeroDivisionError: a bug" in _json_refusal(capsys.readouterr().err, 70)["message"]

    def interrupted(args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(policy, "run", interrupted)
    assert main([*STORM_RISK, "--format", "json"]) == 130
    assert _json_refusal(capsys.readouterr().err, 130)["message"] == "interrupted"


def test_without_format_json_a_refusal_stays_one_text_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "--host", "kernel=7.0.3", "--vm", "machine=q35"]) == 3
    assert capsys.readouterr().err == "seoib: --host: host spec needs qemu=<version>\n"


# --- output that cannot be written -------------------------------------------------------

def _run(argv: list[str], *, env: dict[str, str] | None = None,
         **kw: Any) -> subprocess.CompletedProcess[bytes]:
    full = {**os.environ, **(env or {})}
    full.pop("SEOIB_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "seoib", *argv], env=full, capture_output=False,
                          stderr=subprocess.PIPE, timeout=120, **kw)


def _one_line(err: bytes) -> str:
    text = err.decode()
    assert "Traceback" not in text and text.count("\n") == 1 and text.startswith("seoib: "), text
    return text


def test_a_closed_stdout_is_exit_74_with_one_line() -> None:
    done = _run(STORM_RISK, stdout=None, pass_fds=(), preexec_fn=lambda: os.close(1))
    assert done.returncode == 74
    assert "standard output is closed" in _one_line(done.stderr)


def test_quiet_needs_no_stdout_at_all() -> None:
    done = _run([*STORM_RISK, "--quiet"], preexec_fn=lambda: os.close(1))
    assert (done.returncode, done.stderr) == (1, b"")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_stdout_on_dev_full_is_exit_74() -> None:
    with open("/dev/full", "wb") as full:
        done = _run(STORM_RISK, stdout=full)
    assert done.returncode == 74
    assert "No space left on device" in _one_line(done.stderr)


def test_a_reader_that_stops_reading_is_exit_74(tmp_path: Path) -> None:
    # A JSON Lines batch long enough to fill the pipe after the reader has gone.
    line = json.dumps({"host": HOST, "vm": "machine=q35,irqchip=split"})
    batch = tmp_path / "q.jsonl"
    batch.write_text((line + "\n") * 400)
    reader = subprocess.Popen([sys.executable, "-m", "seoib", "policy", "--batch", str(batch)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.readline()
    reader.stdout.close()  # `| head -1`
    err = reader.stderr.read()
    assert reader.wait(timeout=120) == 74
    assert "broken pipe" in _one_line(err)


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"},
                                 {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0",
                                  "PYTHONCOERCECLOCALE": "0", "PYTHONIOENCODING": ""}])
def test_an_ascii_terminal_gets_stand_ins_not_a_crash(env: dict[str, str]) -> None:
    done = _run(["simulate", "--example", "storm"], env=env, stdout=subprocess.PIPE)
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout.isascii() and b"PASS" in done.stdout


def test_control_characters_in_text_output_are_escaped(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "fleet.yaml"
    plan.write_text(json.dumps({
        "hosts": [{"group": "rack\x1b]0;pwned\x07", "count": 2, "kernel": "6.12.40",
                   "qemu": "10.2.0"}],
        "vms": [{"group": "web\x9b2J", "count": 3, "hosts": "rack\x1b]0;pwned\x07",
                 "machine": "pc-q35-10.2", "irqchip": "split", "guest": "windows-hyperv"}]}))
    assert main(["designs", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "rack\\x1b]0;pwned\\x07" in out


# --- --quiet and --fields ------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    STORM_RISK,
    ["migrate", "--src", HOST, "--dst", "kernel=6.12.40,qemu=10.2.0", "--vm",
     "machine=pc-q35-10.2,irqchip=split"],
    ["simulate", "--example", "storm"],
    ["rules", "validate"],
])
def test_quiet_keeps_the_exit_code_and_prints_nothing(argv: list[str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)
    capsys.readouterr()
    assert main([*argv, "--quiet"]) == code
    assert capsys.readouterr() == ("", "")


def test_one_field_is_one_word(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*STORM_RISK, "--field", "outcome"]) == 1
    assert capsys.readouterr().out == "storm-risk\n"


def test_fields_are_one_tab_separated_line_or_one_object(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*STORM_RISK, "--fields", "policy,severity", "--field", "witness.agrees"]) == 1
    assert capsys.readouterr().out == "quirked\twarn\ttrue\n"
    assert main([*STORM_RISK, "--fields", "policy,reasons.0.rule", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"policy": "quirked",
                                                   "reasons.0.rule": "effect.storm-risk-guest"}


def test_migrate_fields_reach_into_the_states(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["migrate", "--src", "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "--dst", HOST,
            "--vm", "machine=pc-q35-10.2,irqchip=split,guest=windows-hyperv"]
    main([*argv, "--format", "json"])
    whole = json.loads(capsys.readouterr().out)
    main([*argv, "--fields", "outcome,src_state.policy,dst_state"])
    outcome, src, dst = capsys.readouterr().out.rstrip("\n").split("\t")
    assert (outcome, src) == (whole["outcome"], whole["src_state"]["policy"])
    assert json.loads(dst) == whole["dst_state"]


def test_fields_beside_batch_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "q.jsonl").write_text("")
    assert main(["policy", "--batch", str(tmp_path / "q.jsonl"), "--field", "outcome"]) == 3
    assert "--fields" in capsys.readouterr().err


# --- probe ---------------------------------------------------------------------------------

def test_a_bad_label_prefix_is_refused_before_the_probe(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import seoib.commands.probe as probe

    def never(**kw: Any) -> None:
        raise AssertionError("probed although the prefix is bad")

    monkeypatch.setattr(probe, "probe_host", never)
    for prefix in ("example.com/seoib", "a b", "Example.com", "-x.com", "x" * 254):
        assert main(["probe", "--format", "labels", f"--prefix={prefix}"]) == 3
        assert "not a DNS subdomain" in capsys.readouterr().err


@pytest.mark.parametrize("spec, code", [
    ({"name": "h", "kernel": "7.0.3", "qemu": "11.0.0"}, 0),
    ({"name": "h", "kernel": "7.0.3"}, 1),  # no QEMU found: seoib and the stack are unknown
    # no KVM mask: a local build is judged as its upstream base, and says so
    ({"name": "h", "kernel": "6.18.44-fc-v1300", "qemu": "11.0.0"}, 0),
    ({"name": "h", "kernel": "6.18.44-fc-v1300", "x2apic-api": "0xf", "qemu": "11.0.0"}, 0),
])
@pytest.mark.parametrize("fmt", ["labels", "json", "text"])
def test_a_probe_that_cannot_judge_exits_1(spec: dict[str, str], code: int, fmt: str,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import seoib.commands.probe as probe
    from seoib.inputs.probe_model import ProbeResult

    monkeypatch.setattr(probe, "probe_host", lambda **kw: ProbeResult(spec=dict(spec)))
    monkeypatch.setattr(probe, "with_behaviour", lambda result, kvm, rs: result)
    assert main(["probe", "--format", fmt]) == code
    out, err = capsys.readouterr()
    assert ("unknown" in out) == (code == 1) if fmt == "labels" else True
    assert ("the probe cannot judge this host" in err) == (code == 1)
    if fmt == "labels" and "-" in spec["kernel"] and "x2apic-api" not in spec:
        assert "distribution build (local) of upstream 6.18.44" in err


# --- the exit-code table ---------------------------------------------------------------------

@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_its_exit_codes_in_its_help(command: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert command in exits.TABLE
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    for code in exits.codes(command):
        assert f"\n  {code:<5}" in out.split("exit status:", 1)[1]


def test_the_table_and_docs_contracts_agree() -> None:
    """docs/contracts.md lists, per command, exactly the codes the table gives."""
    text = (Path(__file__).parent.parent / "docs" / "contracts.md").read_text()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for command in COMMANDS:
        rows = [line for line in section.splitlines() if line.startswith(f"| `{command}` |")]
        assert len(rows) == 1, f"no single row for {command} in docs/contracts.md"
        listed = {int(c) for c in rows[0].split("|")[2].replace("`", "").split(",")}
        assert listed == set(exits.codes(command)), (command, listed)


def test_a_graph_the_simulator_disagrees_with_is_exit_4_in_json_too(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import seoib.commands.graph as graph

    real = graph.build_graph

    def disagreeing(rs: Any, vmc: Any) -> Any:
        g, solver = real(rs, vmc)
        solver.disagreements.append({"differences": ["planted"]})
        return g, solver

    monkeypatch.setattr(graph, "build_graph", disagreeing)
    assert main(["graph", "--format", "json"]) == 4
    out, err = capsys.readouterr()
    assert json.loads(out)["witness"]["disagreements"]  # the graph says so itself
    assert "does not reproduce 1 verdicts" in _json_refusal(err, 4)["message"]
