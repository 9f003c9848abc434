"""The deployment files in deploy/: the systemd unit verifies, the image is built as described.

`systemd-analyze verify` parses the unit as systemd would (unknown keys and bad
values are warnings on stderr, a missing executable an error), with ExecStart
pointed at this installation's `seoib`. `systemd-analyze security` scores the
sandbox. A container engine (podman, buildah) builds and runs the image where
one can run; on machines without one the Containerfile is checked for what the
image promises (a Debian slim base, a non-root user, `seoib serve` as entry
point, a health check) and its health check is run against a real service.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SEOIB = Path(sys.executable).with_name("seoib")


def _unit(tmp_path: Path) -> Path:
    if not SEOIB.exists():
        pytest.skip("the seoib console script is not installed beside this interpreter")
    unit = tmp_path / "seoib-serve.service"
    unit.write_text((DEPLOY / "seoib-serve.service").read_text().replace("/opt/seoib/bin/seoib", str(SEOIB)))
    return unit


def _analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    return tool


def test_the_systemd_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    proc = subprocess.run([_analyze(), "verify", str(_unit(tmp_path))], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key and a bad value are reported."""
    unit = _unit(tmp_path)
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=strictest"))
    proc = subprocess.run([_analyze(), "verify", str(unit)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert "strictest" in proc.stderr


def test_the_unit_is_sandboxed(tmp_path: Path) -> None:
    proc = subprocess.run([_analyze(), "security", "--offline=yes", str(_unit(tmp_path))],
                          capture_output=True, text=True, timeout=60, check=False)
    if "--offline" in proc.stderr and proc.returncode != 0:
        pytest.skip("this systemd-analyze cannot score a unit file offline")
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    assert score and float(score.group(1)) <= 2.0, proc.stdout[-2000:]


def test_the_containerfile_promises() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(re.search(r"python:3\.\d+-slim-(bookworm|trixie)$", b) for b in bases), bases
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["seoib", "serve"\]', text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*seoib\.serve\.healthcheck", text, re.M)


def test_the_health_check_tells_up_from_down(tmp_path: Path) -> None:
    from test_serve import running

    env = {**os.environ}
    with running(tmp_path, "--workers", "1") as srv:
        env["SEOIB_HEALTH_URL"] = f"http://127.0.0.1:{srv.port}/livez"
        up = subprocess.run([sys.executable, "-m", "seoib.serve.healthcheck"], env=env, timeout=30,
                            check=False, capture_output=True)
    down = subprocess.run([sys.executable, "-m", "seoib.serve.healthcheck"], env=env, timeout=30,
                          check=False, capture_output=True)
    assert up.returncode == 0 and down.returncode == 1


ENGINES = [e for e in ("podman", "buildah") if shutil.which(e)]


@pytest.mark.skipif(not ENGINES, reason="no container engine (podman, buildah) on this machine")
def test_the_image_builds_and_serves(tmp_path: Path) -> None:  # pragma: no cover - needs an engine
    engine = ENGINES[0]
    root = DEPLOY.parent
    tag = "localhost/seoib-serve:test"
    build = [engine, "build", "-f", str(DEPLOY / "Containerfile"), "-t", tag, str(root)]
    if engine == "buildah":
        build = [engine, "bud", "-f", str(DEPLOY / "Containerfile"), "-t", tag, str(root)]
    proc = subprocess.run(build, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0 and ("permission" in proc.stderr.lower() or "namespace" in proc.stderr.lower()):
        pytest.skip(f"{engine} cannot build here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    if engine == "podman":
        run = subprocess.run([engine, "run", "--rm", tag, "--help"], capture_output=True, text=True,
                             timeout=300, check=False)
        assert run.returncode == 0 and "--token-file" in run.stdout
