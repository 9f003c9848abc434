"""Heavy requests run in a job process, outside the event loop, with a time and memory budget.

A worker of the service answers cheap requests in its event loop; anything whose
cost grows with its body (a rollout plan for ``/v1/check``, a long list of
queries, a rule set to load again) goes to a job process forked from the worker,
so it inherits the rule set and the engine's memos without loading them:

- memory: the job process runs under ``RLIMIT_AS`` = its size at the fork plus
  the budget; a job that needs more meets MemoryError, answers 413 and exits;
- time: the worker waits for the answer at most the budget, then kills the job
  process (SIGKILL) and answers 503; a job process that dies answers 503;
- a job process serves jobs one after another until it is killed, dies, or the
  rule set changes (then the next job forks a fresh one).

The event loop never waits on a job: it awaits the job's socket, so ``/healthz``
and every cheap request keep their answer time while a plan is checked.
Messages are framed as ``!II`` (meta length, body length), the meta JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import struct
from collections.abc import Callable
from typing import Any

__all__ = ["Job", "JobFailed", "JobPool"]

_HEAD = struct.Struct("!II")
Job = Callable[[dict[str, Any], bytes], tuple[int, bytes]]  # (meta, body) -> (status, body)


class JobFailed(Exception):
    """A job ran out of its budget or its process died: ``status`` (413 or 503) says which."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _send(sock: socket.socket, meta: dict[str, Any], body: bytes) -> None:
    raw = json.dumps(meta).encode()
    sock.sendall(_HEAD.pack(len(raw), len(body)) + raw + body)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _child(sock: socket.socket, job: Job, memory: int) -> None:
    """The job process: close what the worker holds (its clients, the listening socket),
    set the memory budget, then serve jobs until the worker closes the socket."""
    code = 0
    try:
        keep = sock.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_IGN)
        if memory > 0:
            limit = _vm_bytes() + memory
            resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
        while True:
            try:
                meta_len, body_len = _HEAD.unpack(_recv_exact(sock, _HEAD.size))
                meta = json.loads(_recv_exact(sock, meta_len))
                body = _recv_exact(sock, body_len)
            except EOFError:
                break
            try:
                status, out = job(meta, body)
            except MemoryError:
                out = b""  # free what can be freed before answering
                _send(sock, {"status": 413, "memory": True}, b"")
                break  # the heap may be in pieces: a fresh process takes the next job
            _send(sock, {"status": status}, out)
    except BaseException:  # never fall back into the worker's code
        code = 70
    finally:
        os._exit(code)


class _Proc:
    __slots__ = ("generation", "pid", "sock")

    def __init__(self, pid: int, sock: socket.socket, generation: int) -> None:
        self.pid, self.sock, self.generation = pid, sock, generation

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


class JobPool:
    """Up to ``size`` job processes of one worker; ``run`` queues for one when all are busy."""

    def __init__(self, job: Job, *, size: int = 1, memory: int = 512 << 20) -> None:
        self.job = job
        self.size = size
        self.memory = memory
        self.generation = 0  # bumped when the rule set changes: older processes retire
        self._idle: list[_Proc] = []
        self._slots: asyncio.Semaphore | None = None
        self.started = 0

    def renew(self) -> None:
        """The worker's state changed (a new rule set): idle job processes retire now, busy
        ones when their job is done."""
        self.generation += 1
        for proc in self._idle:
            proc.kill()
        self._idle.clear()

    def close(self) -> None:
        self.renew()

    def _fork(self) -> _Proc:
        parent, child = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            parent.close()
            _child(child, self.job, self.memory)
        child.close()
        parent.setblocking(False)
        self.started += 1
        return _Proc(pid, parent, self.generation)

    async def run(self, meta: dict[str, Any], body: bytes, seconds: float) -> tuple[int, bytes]:
        """The job's (status, body); JobFailed when it ran out of time or memory, or died."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            await asyncio.wait_for(self._slots.acquire(), seconds)
        except asyncio.TimeoutError:
            raise JobFailed(503, f"every job process was busy for the whole {seconds:g} s budget; "
                                 "try again later") from None
        proc: _Proc | None = None
        try:
            proc = self._idle.pop() if self._idle else self._fork()
            raw = json.dumps(meta).encode()
            await loop.sock_sendall(proc.sock, _HEAD.pack(len(raw), len(body)) + raw + body)
            left = max(0.001, deadline - loop.time())
            try:
                reply_meta, out = await asyncio.wait_for(self._reply(loop, proc.sock), left)
            except asyncio.TimeoutError:
                raise JobFailed(503, f"the request ran past its {seconds:g} s budget and was "
                                     "stopped; send less work per request") from None
            except (EOFError, OSError):
                raise JobFailed(503, "the request's job process died; send less work per "
                                     "request") from None
            if reply_meta.get("memory"):
                raise JobFailed(413, f"the request needs more than its {self.memory >> 20} MiB "
                                     "memory budget; send less work per request")
            if proc.generation == self.generation and len(self._idle) < self.size:
                self._idle.append(proc)
                proc = None
            return int(reply_meta["status"]), out
        finally:
            if proc is not None:
                proc.kill()
            self._slots.release()

    @staticmethod
    async def _reply(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> tuple[dict[str, Any], bytes]:
        async def exact(n: int) -> bytes:
            chunks, got = [], 0
            while got < n:
                chunk = await loop.sock_recv(sock, min(n - got, 1 << 20))
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                got += len(chunk)
            return b"".join(chunks)

        meta_len, body_len = _HEAD.unpack(await exact(_HEAD.size))
        meta = json.loads(await exact(meta_len))
        return meta, await exact(body_len)
