"""Bounded conversations with a QEMU binary: one-shot runs and QMP sessions.

Contract: every byte read from a child has a cap and every wait a deadline. A
child that floods its output, hangs, or dies before answering ends in one
:class:`QemuError` whose message says which, and the child is always killed and
reaped before the call returns, whatever happened. A QMP session is JSON lines
over the child's stdin/stdout (``-qmp stdio``); asynchronous events are skipped.

>>> QmpCommandError("query-foo", "CommandNotFound", "no such command").message
'query-foo: CommandNotFound: no such command'
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Any

from ..errors import BadInput

__all__ = [
    "OUTPUT_CAP",
    "QemuError",
    "QmpCommandError",
    "QmpSession",
    "run_bounded",
]

# -machine help of any QEMU is ~10 KiB and `info qtree` of a paused PC ~30 KiB; a
# child that writes a MiB is not answering the question.
OUTPUT_CAP = 1 << 20
# Of a child's stderr only the head is kept: its first lines say why it refused.
STDERR_KEEP = 8 << 10
_CHUNK = 64 << 10


class QemuError(BadInput):
    """A QEMU binary could not be asked: not runnable, refused, flooded or hung."""


class QmpCommandError(QemuError):
    """A QMP command answered with ``{"error": ...}``; the process itself is fine."""

    def __init__(self, command: str, error_class: str, desc: str) -> None:
        super().__init__(f"{command}: {error_class}: {desc}")
        self.command = command
        self.error_class = error_class
        self.desc = desc


def _env() -> dict[str, str]:
    # LC_ALL=C: the formats read here are the untranslated ones.
    return dict(os.environ, LC_ALL="C")


def _spawn(argv: Sequence[str], *, stdin: int | None) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            list(argv), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=_env(), start_new_session=True)
    except OSError as err:
        raise QemuError(f"cannot run {argv[0]}: {err.strerror or err}") from None


def _reap(proc: subprocess.Popen[bytes], grace: float = 0.0) -> None:
    """Kill (after ``grace`` seconds for a clean exit) and wait: no child outlives us."""
    if grace > 0:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    if proc.poll() is None:
        # The child leads its own session: its group goes too (a wrapper script's children).
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


class _Pump:
    """Reads a child's stdout and stderr without blocking, within a cap and a deadline."""

    def __init__(self, proc: subprocess.Popen[bytes], what: str, cap: int) -> None:
        self.proc, self.what, self.cap = proc, what, cap
        self.out = bytearray()
        self.err = bytearray()
        self.read_total = 0
        self.eof = False
        self.sel = selectors.DefaultSelector()
        for stream in (proc.stdout, proc.stderr):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
            self.sel.register(stream, selectors.EVENT_READ)

    def close(self) -> None:
        self.sel.close()

    def stderr_line(self) -> str:
        lines = [ln.strip() for ln in self.err.decode("utf-8", "replace").splitlines() if ln.strip()]
        # QEMU's own refusal is the last "<binary>: ..." line; warnings come before it.
        return lines[-1] if lines else ""

    def pump(self, deadline: float) -> bool:
        """Read what is ready until ``deadline``; False once stdout is closed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise QemuError(f"{self.what}: no answer within the time limit (killed)")
        for key, _ in self.sel.select(remaining):
            stream: IO[bytes] = key.fileobj  # type: ignore[assignment]
            chunk = os.read(stream.fileno(), _CHUNK)
            if not chunk:
                self.sel.unregister(stream)
                if stream is self.proc.stdout:
                    self.eof = True
                continue
            self.read_total += len(chunk)
            if self.read_total > self.cap:
                raise QemuError(f"{self.what}: more than {self.cap} bytes of output "
                                "(flooding, killed)")
            if stream is self.proc.stdout:
                self.out += chunk
            elif len(self.err) < STDERR_KEEP:
                self.err += chunk[: STDERR_KEEP - len(self.err)]
        return not self.eof


def run_bounded(argv: Sequence[str], *, timeout: float = 10.0, cap: int = OUTPUT_CAP) -> tuple[int, str]:
    """Run ``argv`` to completion: (exit status, stdout + stderr head) or QemuError."""
    proc = _spawn(argv, stdin=subprocess.DEVNULL)
    what = " ".join([os.path.basename(argv[0]), *argv[1:]])
    pump = _Pump(proc, what, cap)
    deadline = time.monotonic() + timeout
    try:
        while pump.pump(deadline):
            pass
        try:
            rc = proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            raise QemuError(f"{what}: did not exit within the time limit (killed)") from None
        out = (pump.out + pump.err).decode("utf-8", "replace")
        return rc, out
    finally:
        pump.close()
        _reap(proc)


class QmpSession:
    """A paused QEMU (``-S -nodefaults -display none -qmp stdio``) and its monitor.

    Use as a context manager; the process is killed on exit. ``timeout`` bounds the
    whole session, start-up included.
    """

    def __init__(self, binary: str, args: Sequence[str] = (), *, timeout: float = 5.0,
                 cap: int = OUTPUT_CAP) -> None:
        self.argv = [binary, "-S", "-nodefaults", "-display", "none", "-qmp", "stdio", *args]
        self.timeout = timeout
        self.cap = cap
        self.greeting: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: _Pump | None = None
        self._deadline = 0.0

    def __enter__(self) -> QmpSession:
        self._deadline = time.monotonic() + self.timeout
        self._proc = _spawn(self.argv, stdin=subprocess.PIPE)
        what = f"{os.path.basename(self.argv[0])} {' '.join(self.argv[7:])}".strip()
        self._pump = _Pump(self._proc, what, self.cap)
        try:
            first = self._message()
            if "QMP" not in first:
                raise QemuError(f"{what}: the monitor did not greet with QMP")
            self.greeting = first["QMP"]
            self.execute("qmp_capabilities")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if self._pump is not None:
            self._pump.close()
        if proc.poll() is None and proc.stdin is not None:
            try:  # a clean quit is faster than a kill's teardown; the kill follows anyway
                proc.stdin.write(b'{"execute": "quit"}\n')
                proc.stdin.flush()
            except OSError:
                pass
        _reap(proc, grace=0.5)

    def _message(self) -> dict[str, Any]:
        assert self._pump is not None and self._proc is not None
        pump = self._pump
        while True:
            nl = pump.out.find(b"\n")
            if nl >= 0:
                line = bytes(pump.out[:nl])
                del pump.out[: nl + 1]
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line)
                except (ValueError, RecursionError):
                    raise QemuError(f"{pump.what}: the monitor wrote something not JSON") from None
                if not isinstance(msg, dict):
                    raise QemuError(f"{pump.what}: the monitor wrote a JSON {type(msg).__name__}")
                return msg
            if not pump.pump(self._deadline):
                self._proc.poll()
                why = pump.stderr_line() or f"exit status {self._proc.returncode}"
                raise QemuError(f"{pump.what}: QEMU stopped: {why}")

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run one QMP command and return its ``return`` value (QmpCommandError on error)."""
        assert self._proc is not None and self._proc.stdin is not None
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        try:
            self._proc.stdin.write(json.dumps(request).encode() + b"\n")
            self._proc.stdin.flush()
        except OSError:
            pass  # the process died: reading says why
        while True:
            msg = self._message()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                err = msg["error"] if isinstance(msg["error"], dict) else {}
                raise QmpCommandError(command, str(err.get("class", "Error")),
                                      str(err.get("desc", "")))
            # {"event": ...}: asynchronous, not an answer
