"""The bounded QMP client against stand-in binaries: a flood, a hang, a refusal,
a monitor that is not QMP, and a well-behaved monitor with events and errors.

None of these needs QEMU; each stand-in is a small Python program.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from seoib.inputs.qmp import QemuError, QmpCommandError, QmpSession, run_bounded

GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}'

MONITOR = f"""
import json, sys
print({GREETING!r}, flush=True)
for line in sys.stdin:
    cmd = json.loads(line)["execute"]
    if cmd == "quit":
        print('{{"return": {{}}}}', flush=True); break
    if cmd == "query-status":
        print('{{"event": "RESUME", "data": {{}}}}', flush=True)
        print('{{"return": {{"status": "prelaunch", "running": false}}}}', flush=True)
    elif cmd == "qmp_capabilities":
        print('{{"return": {{}}}}', flush=True)
    else:
        err = {{"class": "CommandNotFound", "desc": "The command " + cmd + " has not been found"}}
        print(json.dumps({{"error": err}}), flush=True)
"""


def stand_in(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport os\n"
                    f"open({str(tmp_path / (name + '.pid'))!r}, 'w').write(str(os.getpid()))\n"
                    + body, encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def assert_gone(tmp_path: Path, name: str) -> None:
    pid = int((tmp_path / f"{name}.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_monitor_answers_skipping_events(tmp_path: Path) -> None:
    binary = stand_in(tmp_path, "monitor", MONITOR)
    with QmpSession(binary) as qmp:
        assert qmp.greeting["version"]["qemu"]["major"] == 7
        assert qmp.execute("query-status") == {"status": "prelaunch", "running": False}
        with pytest.raises(QmpCommandError) as info:
            qmp.execute("query-nothing")
        assert info.value.error_class == "CommandNotFound"
    assert_gone(tmp_path, "monitor")


@pytest.mark.parametrize("body", ["import sys\nwhile True: sys.stdout.write('x' * 65536)\n",
                                  "import sys\nwhile True: sys.stderr.write('warning\\n' * 4096)\n"],
                         ids=["stdout", "stderr"])
def test_a_flood_is_cut_at_the_cap(tmp_path: Path, body: str) -> None:
    binary = stand_in(tmp_path, "flood", body)
    with pytest.raises(QemuError, match=r"more than 1048576 bytes of output \(flooding, killed\)"):
        run_bounded([binary, "--version"], timeout=20)
    assert_gone(tmp_path, "flood")
    with pytest.raises(QemuError, match="flooding"), QmpSession(binary, timeout=20):
        pass


def test_a_hang_is_killed_at_the_deadline(tmp_path: Path) -> None:
    binary = stand_in(tmp_path, "hang", "import time\ntime.sleep(120)\n")
    start = time.monotonic()
    with pytest.raises(QemuError, match="no answer within the time limit"):
        run_bounded([binary, "--version"], timeout=0.5)
    with pytest.raises(QemuError, match="no answer within the time limit"), QmpSession(binary, timeout=0.5):
        pass
    assert time.monotonic() - start < 10
    assert_gone(tmp_path, "hang")


def test_a_refusal_is_qemus_own_last_line(tmp_path: Path) -> None:
    binary = stand_in(tmp_path, "refuse", "import sys\nsys.stderr.write('qemu: warning: x\\n"
                      "qemu: -machine bogus: unsupported machine type\\n')\nsys.exit(1)\n")
    with pytest.raises(QemuError, match="QEMU stopped: qemu: -machine bogus: unsupported machine type"), \
            QmpSession(binary, ["-machine", "bogus"]):
        pass


@pytest.mark.parametrize(("body", "message"), [
    ("print('Welcome to the monitor', flush=True)\n", "not JSON"),
    ("print('[1, 2]', flush=True)\n", "JSON list"),
    ("print('{\"hello\": 1}', flush=True)\n", "did not greet with QMP"),
    ("print('[' * 300000, flush=True)\n", "not JSON"),
])
def test_a_monitor_that_is_not_qmp(tmp_path: Path, body: str, message: str) -> None:
    binary = stand_in(tmp_path, "other", body + "import time\ntime.sleep(60)\n")
    with pytest.raises(QemuError, match=message), QmpSession(binary, timeout=10):
        pass
    assert_gone(tmp_path, "other")


def test_a_binary_that_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(QemuError, match="cannot run"):
        run_bounded([str(tmp_path / "absent")])
