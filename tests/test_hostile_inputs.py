"""Hostile and odd inputs end in a clear refusal or a correct verdict: tests/cases/hostile/.

A refusal is exit 3 with exactly one stderr line naming where, nothing on stdout and
no traceback; a verdict case gives its exit code and what stdout must (not) say.
Each input also has to finish within the 20 s a user would wait (a hang detector,
not a speed target: the cases take well under a second each). A case with ``output``
runs as a real process whose standard output is closed, /dev/full, a pipe its reader
closes after one line (``head-1``) or a plain pipe, or whose standard input is closed
(``stdin-closed``): what it ends with is ``exit`` and the one ``stderr`` line.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import seoib.cli as cli
from seoib.cli import main

HANG = 20.0
_DIGITS = re.compile(r"\{(zeros|ones):(\d+)\}")


def expand(text: str, tmp: Path) -> str:
    text = _DIGITS.sub(lambda m: ("0" if m.group(1) == "zeros" else "1") * int(m.group(2)), text)
    return text.replace("{tmp}", str(tmp))


def make_file(path: Path, how: Any, tmp: Path) -> None:
    if how == "fifo":
        os.mkfifo(path)
    elif how == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()  # the socket file stays
    elif how == "dir":
        path.mkdir()
    elif "nest" in how:
        path.write_text("[" * how["nest"] + "]" * how["nest"])
    elif "repeat" in how:
        body = how.get("prefix", "") + how["repeat"] * how["times"] + how.get("suffix", "")
        path.write_text(body)
    else:
        path.write_text(expand(how["text"], tmp), encoding="utf-8")


def run_process(case: dict[str, Any], argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``seoib ARGV`` as a process whose standard output is what ``case["output"]`` says."""
    env = {**os.environ, **case.get("env", {})}
    env.pop("SEOIB_DEBUG", None)
    cmd = [sys.executable, "-m", "seoib", *argv]
    how = case["output"]
    if how == "head-1":
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        return proc.wait(timeout=HANG), first.decode(), err.decode()
    if how in ("closed", "stdin-closed"):
        fd = 1 if how == "closed" else 0
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE if fd else None,
                              stderr=subprocess.PIPE, timeout=HANG, preexec_fn=lambda: os.close(fd))
        return done.returncode, "", done.stderr.decode()
    if how == "/dev/full":
        with open("/dev/full", "wb") as full:
            done = subprocess.run(cmd, cwd=cwd, env=env, stdout=full, stderr=subprocess.PIPE,
                                  timeout=HANG)
        return done.returncode, "", done.stderr.decode()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=HANG)
    return done.returncode, done.stdout.decode("ascii"), done.stderr.decode()


@pytest.mark.cases("hostile")
def test_hostile_input(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    for name, how in case.get("files", {}).items():
        make_file(tmp_path / name, how, tmp_path)
    if "output" in case:
        code, out, err = run_process(case, [expand(str(a), tmp_path) for a in case["args"]],
                                     tmp_path)
        assert code in case["exit"], (code, out, err)
        assert "Traceback" not in err and err.count("\n") == len(case.get("stderr", [])), err
        for piece in case.get("stderr", []):
            assert piece in err, f"{piece!r} not in {err!r}"
        for piece in case.get("stdout", []):
            assert piece in out, f"{piece!r} not in {out!r}"
        return
    for key, value in case.get("env", {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # anything written by mistake lands here, and is seen
    start = time.monotonic()
    code = main([expand(str(a), tmp_path) for a in case["args"]])
    took = time.monotonic() - start
    out, err = capsys.readouterr()
    assert took < HANG, f"took {took:.1f} s"
    assert "Traceback" not in err
    if "error" in case:
        assert code == 3, (code, out, err)
        assert out == "", "nothing is printed as if it were a verdict"
        assert err.startswith("seoib: ") and err.count("\n") == 1, err
        for piece in case["error"]:
            assert piece in err, f"{piece!r} not in {err!r}"
        for piece in case.get("error_absent", []):
            assert piece not in err, f"{piece!r} in {err!r}"
        made = {name.split("/")[0] for name in case.get("files", {})}
        assert {p.name for p in tmp_path.iterdir()} == made, "a refusal writes nothing"
        for name, how in case.get("files", {}).items():  # and changes nothing it was given
            if isinstance(how, dict) and "text" in how:
                assert (tmp_path / name).read_text() == expand(how["text"], tmp_path), name
    else:
        assert code in case["exit"], (code, out, err)
        for piece in case.get("stdout", []):
            assert piece in out, f"{piece!r} not in {out!r}"
        for piece in case.get("stdout_absent", []):
            assert piece not in out, f"{piece!r} in {out!r}"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from seoib import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"seoib {__version__}\n"


def test_an_unexpected_exception_is_exit_70_with_a_hint(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import seoib.commands.policy as policy

    def broken(args: Any) -> int:
        raise ZeroDivisionError("a bug\nwith a second line")

    monkeypatch.setattr(policy, "run", broken)
    monkeypatch.delenv("SEOIB_DEBUG", raising=False)
    assert main(["policy", "--host", "kernel=7.0,qemu=11.0", "--vm", "machine=q35"]) == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("seoib: internal error: ZeroDivisionError: a bug\\nwith")
    assert "please report it" in err and "SEOIB_DEBUG=1" in err


def test_an_interrupt_is_exit_130(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    import seoib.commands.policy as policy

    def interrupted(args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(policy, "run", interrupted)
    assert main(["policy", "--host", "kernel=7.0,qemu=11.0", "--vm", "machine=q35"]) == 130
    assert capsys.readouterr().err == "seoib: interrupted\n"


def test_a_long_message_stays_one_readable_line() -> None:
    line = cli.one_line("--host: kernel '" + "9" * 5000 + "' is not a release")
    assert "\n" not in line and len(line) < 1000 and line.endswith("is not a release")


# A plan whose names carry ESC, NUL, BEL and a newline that tries to forge a line.
_NAMES_PLAN = {
    "hosts": [{"group": "rack\x1b[31m-a", "count": 2, "kernel": "6.12.40", "qemu": "10.2.0"}],
    "vms": [{"group": "win\nOK: forged line", "count": 3, "hosts": "rack\x1b[31m-a",
             "machine": "pc-q35-10.2", "irqchip": "split", "guest": "windows-hyperv"},
            {"group": "bell\x07\x00x", "count": 1, "hosts": "rack\x1b[31m-a",
             "machine": "pc-q35-10.2", "irqchip": "split", "guest": "any"}],
    "rollout": [{"name": "k\x1bx", "hosts": ["rack\x1b[31m-a"],
                 "set": {"kernel": "7.0.3", "qemu": "11.0.0", "seoib": "rfc-v2"}}],
}


def _strings(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_strings(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_strings(v) for v in value)
    return value if isinstance(value, str) else ""


@pytest.fixture
def names_plan(tmp_path: Path) -> Path:
    path = tmp_path / "names.yaml"
    path.write_text(json.dumps(_NAMES_PLAN))  # JSON is YAML, and escapes the controls
    return path


@pytest.mark.parametrize("fmt", ["text", "junit", "sarif", "json"])
def test_names_are_escaped_for_each_format(fmt: str, names_plan: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(names_plan), "--format", fmt]) == 2
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x00" not in out and "\x07" not in out
    if fmt == "text":
        assert not any(line.startswith("OK: forged line") for line in out.splitlines())
        assert "win\\x0aOK: forged line" in out
    elif fmt == "junit":  # parses, and keeps the newline as a character reference
        root = ET.fromstring(out.split("\n", 1)[1])
        names = [c.get("name") or "" for c in root.iter("testcase")]
        assert any("win\nOK: forged line" in n for n in names)
        assert any("bell\\x07\\x00x" in n for n in names)
    else:  # json.dumps escapes every control character; the name comes back intact
        assert "win\nOK: forged line" in _strings(json.loads(out))


def test_a_10000_host_plan_written_host_by_host_loads(tmp_path: Path) -> None:
    from seoib.plan.planfile import load_plan

    n = 10_000
    lines = ["hosts:"]
    lines += [f"  - {{name: host-{i:05d}, kernel: 6.12.40, qemu: 10.2.0}}" for i in range(n)]
    lines += ["vms:"]
    lines += [f"  - {{name: vm-{i:05d}, host: host-{i:05d}, machine: pc-q35-10.2}}"
              for i in range(n)]
    lines += ["rollout:", "  - {name: kernels, hosts: [host-00000], set: {kernel: 7.0.3}}"]
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n")
    plan = load_plan(path)
    assert len(plan.hosts) == n and len(plan.vms) == n
