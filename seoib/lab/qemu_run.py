"""One QEMU process of the lab: started with an environment, watched, always reaped.

Contract: :class:`QemuProcess` starts ``argv`` with ``env`` (the KVM shim's
variables), its monitor on a unix socket in the run's directory
(``-qmp unix:PATH,server=on,wait=off``) and its stderr in a file, so a process
that dies leaves its last words behind. :meth:`~QemuProcess.execute` is one QMP
command with a deadline. Leaving the context kills the whole process group and
waits for it; :attr:`~QemuProcess.status` then tells how it ended (an exit code,
or the signal that ended it, e.g. SIGABRT). Nothing here knows SEOIB.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["STDERR_KEEP", "Ended", "QemuFailed", "QemuProcess"]

STDERR_KEEP = 16 << 10  # a QEMU's complaint is its first lines; a flood is cut here
_CONNECT_TIMEOUT = 10.0


class QemuFailed(Exception):
    """The process did not start, died, or did not answer in time (``message`` says which)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Ended:
    """How a process ended: ``code`` for an exit, ``signal`` (its name) for a kill;
    ``by_lab`` when the lab itself ended it (the normal end of an observation)."""

    code: int | None
    signal: str | None
    by_lab: bool = False

    def describe(self) -> str:
        if self.by_lab:
            return "ended by the lab"
        return f"killed by {self.signal}" if self.signal else f"exit status {self.code}"

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "signal": self.signal, "by_lab": self.by_lab}


class QemuProcess:
    """A QEMU with a QMP socket; use as a context manager."""

    def __init__(self, argv: Sequence[str], rundir: Path, name: str, *,
                 env: Mapping[str, str] | None = None, timeout: float = 20.0) -> None:
        self.rundir = rundir
        self.name = name
        self.qmp_path = rundir / f"{name}.qmp"
        self.stderr_path = rundir / f"{name}.stderr"
        self.argv = [*argv, "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        self.env = {**os.environ, "LC_ALL": "C", **(env or {})}
        self.timeout = timeout
        self.greeting: dict[str, Any] = {}
        self.status: Ended | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._buf = b""

    def __enter__(self) -> QemuProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.kill()

    # -- life ---------------------------------------------------------------
    def start(self) -> None:
        with open(self.stderr_path, "wb") as err:
            try:
                self._proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                              stdout=err, stderr=err, env=self.env,
                                              start_new_session=True)
            except OSError as exc:
                raise QemuFailed(f"cannot run {self.argv[0]}: {exc.strerror or exc}") from None
        try:
            self._connect()
            greeting = self._message(time.monotonic() + _CONNECT_TIMEOUT)
            self.greeting = greeting.get("QMP", {})
            self.execute("qmp_capabilities")
        except QemuFailed:
            self.kill()
            raise

    def _connect(self) -> None:
        deadline = time.monotonic() + _CONNECT_TIMEOUT
        while True:
            if self.poll() is not None:
                raise QemuFailed(self.death())
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(str(self.qmp_path))
                self._sock = sock
                return
            except OSError:
                sock.close()
            if time.monotonic() > deadline:
                raise QemuFailed(f"{self.name}: no QMP socket within {_CONNECT_TIMEOUT:g} s")
            time.sleep(0.01)

    def poll(self) -> Ended | None:
        """How the process ended, or None while it runs."""
        if self._proc is None:
            return self.status
        rc = self._proc.poll()
        if rc is None:
            return None
        self.status = (Ended(None, signal.Signals(-rc).name) if rc < 0 else Ended(rc, None))
        return self.status

    def wait(self, timeout: float) -> Ended | None:
        """Wait up to ``timeout`` seconds for the process to end by itself."""
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=timeout)
        return self.poll()

    def kill(self) -> Ended | None:
        """End the process (its whole group) and reap it; its status is kept."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        proc = self._proc
        if proc is None:
            return self.status
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.status = Ended(None, "SIGKILL", by_lab=True)
        else:
            self.poll()
        self._proc = None
        return self.status

    # -- output ----------------------------------------------------------------
    def stderr(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read(STDERR_KEEP).decode("utf-8", "replace")
        except OSError:
            return ""

    def complaint(self) -> str:
        """QEMU's own error line from stderr (``<binary>: ...``, warnings skipped), else ''."""
        lines = [ln.strip() for ln in self.stderr().splitlines() if ln.strip()]
        errors = [ln for ln in lines if ": " in ln and "warning:" not in ln
                  and not ln.startswith("seoib-")]
        return (errors or lines or [""])[0]

    def death(self) -> str:
        """Why a process that ended early ended: QEMU's complaint and its status."""
        ended = self.poll() or self.wait(1.0)
        how = ended.describe() if ended else "still running"
        said = self.complaint()
        return f"{said} ({how})" if said else how

    # -- QMP ---------------------------------------------------------------------
    def _message(self, deadline: float) -> dict[str, Any]:
        assert self._sock is not None
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise QemuFailed(f"{self.name}: the monitor did not answer in time")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                raise QemuFailed(f"{self.name}: QEMU stopped: {self.death()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError:
            raise QemuFailed(f"{self.name}: the monitor wrote something not JSON") from None
        return msg if isinstance(msg, dict) else {}

    def execute(self, command: str, arguments: dict[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        """One QMP command; its ``return`` value, or QemuFailed with QEMU's error text."""
        if self._sock is None:
            raise QemuFailed(f"{self.name}: not running")
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(request).encode() + b"\n")
        except OSError:
            raise QemuFailed(f"{self.name}: QEMU stopped: {self.death()}") from None
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            msg = self._message(deadline)
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                err = msg["error"] if isinstance(msg["error"], dict) else {}
                raise QemuFailed(f"{command}: {err.get('desc', 'error')}")
