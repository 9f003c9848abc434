"""Run the decision service: one listening socket, a worker per core, rules loaded once.

The supervisor checks how it is exposed (tokens, TLS, the address: see
:mod:`seoib.serve.exposure`), loads (and checks) the rule set, binds the
socket, makes the metrics directory and forks the workers, so every worker
starts with the rules already in memory. Each worker runs uvicorn (httptools
parser, uvloop loop) on the inherited socket, with the guarded protocol of
:mod:`seoib.serve.protocol`.

- SIGHUP loads the rules again: a bad rule set is refused with its file:line in
  the log and nothing changes; a good one is announced to every worker
  (SIGUSR1), which swaps it in between requests; either way every worker
  reopens its decision log and token file (SIGUSR2 when the rules were refused).
- SIGTERM or SIGINT stops the workers gracefully (requests in flight finish).
- A worker that dies is replaced; so is one whose event loop has not turned
  for ``stall_seconds`` (its heartbeat, a slot in shared memory, went stale):
  whatever blocked it, the service keeps answering.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import resource
import shutil
import signal
import socket
import ssl
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ..errors import BadInput, SeoibError
from ..rules.ruleset import load_rules
from .app import Limits, Service
from .exposure import Tokens

__all__ = ["Exposure", "serve"]


class Exposure:
    """How the service is reached: address, port, tokens, TLS, and --insecure."""

    def __init__(self, host: str, port: int, tokens: Tokens, tls: ssl.SSLContext | None = None,
                 insecure: bool = False) -> None:
        self.host, self.port, self.tokens, self.tls, self.insecure = host, port, tokens, tls, insecure


class _Heartbeats:
    """One monotonic timestamp per worker, in memory shared across the fork."""

    def __init__(self, workers: int) -> None:
        self._map = mmap.mmap(-1, 8 * max(1, workers))

    def beat(self, worker: int) -> None:
        struct.pack_into("d", self._map, 8 * worker, time.monotonic())

    def age(self, worker: int) -> float:
        return time.monotonic() - struct.unpack_from("d", self._map, 8 * worker)[0]


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise BadInput(f"cannot resolve {host!r}: {getattr(exc, 'strerror', None) or exc}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def _run_worker(index: int, sock: socket.socket, service: Service, exposure: Exposure,
                guard_args: dict[str, Any], beats: _Heartbeats, idle_seconds: float) -> None:
    """In the forked child: serve until told to stop, then exit without returning."""
    code = 0
    try:
        import uvicorn

        from .protocol import ConnectionGuard, GuardedProtocol

        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor owns reloads
        beats.beat(index)
        service.bind(lambda: beats.beat(index))
        guard = ConnectionGuard(**guard_args, body_seconds=service.limits.body_seconds)
        guard.on_refusal = service.metrics.refused
        service.body_guarded = True
        protocol = type("WorkerProtocol", (GuardedProtocol,), {"guard": guard})
        config = uvicorn.Config(service, loop=_loop(), http=protocol, lifespan="on",
                                access_log=False, log_level="warning", timeout_keep_alive=idle_seconds,
                                backlog=4096, server_header=False, date_header=False)
        config.load()
        config.ssl = exposure.tls  # the context the supervisor loaded and checked (or None)
        uvicorn.Server(config).run(sockets=[sock])
    except BaseException as exc:  # a worker must never fall back into the supervisor's code
        if not isinstance(exc, SystemExit | KeyboardInterrupt):
            service.event("worker-failed", error=f"{type(exc).__name__}: {exc}")
            code = 70
    finally:
        sys.stderr.flush()
        os._exit(code)


def _loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _check_exposure(exposure: Exposure, log: Callable[..., None]) -> bool:
    """Refuse (BadInput) or warn about how the service is reached; True when on loopback."""
    from .exposure import is_loopback

    loopback = is_loopback(exposure.host)
    if not loopback and not exposure.tokens:
        if not exposure.insecure:
            raise BadInput(f"{exposure.host} is reachable from other machines and no token is set: "
                           "give --token-file FILE (or SEOIB_SERVE_TOKEN), or --insecure to serve "
                           "without authentication")
        log("warning", message=f"serving on {exposure.host} WITHOUT authentication (--insecure): "
            "anyone who can reach it may ask; the admin routes are refused")
    if not loopback and exposure.tokens and exposure.tls is None:
        log("warning", message=f"serving on {exposure.host} without TLS: tokens cross the network in "
            "clear text (give --tls-cert and --tls-key, or terminate TLS in front)")
    return loopback


def _raise_fd_limit() -> int:
    """Open files: the soft limit raised to the hard one (connections are files)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return int(soft)


def serve(exposure: Exposure, workers: int, rules: Any, *, access_log: bool = False,
          limits: Limits | None = None, decision_log: str | None = None,
          max_connections: int = 4096, header_seconds: float = 10.0, idle_seconds: float = 5.0,
          max_header_bytes: int = 16 << 10) -> int:
    import importlib.util

    # Found, not imported: prometheus_client picks its multiprocess mode when first imported,
    # which must come after PROMETHEUS_MULTIPROC_DIR is set below.
    if any(importlib.util.find_spec(name) is None for name in ("uvicorn", "prometheus_client")):
        raise BadInput("the decision service needs its server and metrics: "
                       "pip install 'seoib-engine[serve]'")
    limits = limits or Limits()
    log = _Log()
    loopback = _check_exposure(exposure, log.event)
    if decision_log is not None:
        _check_decision_log(decision_log)
    rs = load_rules(rules)  # once, before forking: every worker inherits it
    files = _raise_fd_limit()
    per_worker = max(16, min(max_connections // workers, files // workers - 64))
    guard_args = {"max_connections": per_worker, "header_seconds": header_seconds,
                  "max_header_bytes": max_header_bytes}
    sock = _bind(exposure.host, exposure.port)
    metrics_dir = tempfile.mkdtemp(prefix="seoib-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # read when the workers import it
    service = Service(rules, rs, limits=limits, tokens=exposure.tokens, loopback=loopback,
                      access_log=access_log, decision_log=decision_log)
    beats = _Heartbeats(workers)
    stall = limits.request_seconds + 10.0  # no request may hold a loop this long
    os.environ["SEOIB_SERVE_SUPERVISOR"] = str(os.getpid())
    pending: list[int] = []
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, _f: pending.append(s))
    children: dict[int, int] = {}
    started: dict[int, float] = {}

    def spawn(index: int) -> None:
        if time.monotonic() - started.get(index, -10.0) < 1.0:
            time.sleep(1.0)  # a worker that dies at once would otherwise be forked in a tight loop
        started[index] = time.monotonic()
        beats.beat(index)
        pid = os.fork()
        if pid == 0:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            _run_worker(index, sock, service, exposure, guard_args, beats, idle_seconds)
        children[pid] = index

    try:
        for i in range(workers):
            spawn(i)
        bound = sock.getsockname()
        log.event("listening", host=bound[0], port=bound[1], workers=workers, rules=rs.digest,
                  tls=exposure.tls is not None, auth="bearer" if exposure.tokens else "none",
                  server=f"uvicorn (httptools, {_loop()})")
        _supervise(children, pending, spawn, service, beats, stall, log)
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    log.event("stopped")
    return 0


def _supervise(children: dict[int, int], pending: list[int], spawn: Callable[[int], None],
               service: Service, beats: _Heartbeats, stall: float, log: _Log) -> None:
    from .metrics import mark_dead

    stopping = False
    deadline = 0.0
    while children:
        while pending:
            sig = pending.pop(0)
            if sig == signal.SIGHUP and not stopping:
                _reload(service, children, log)
            elif sig in (signal.SIGTERM, signal.SIGINT) and not stopping:
                stopping = True
                _signal_all(children, signal.SIGTERM)
                deadline = time.monotonic() + 15
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            index = children.pop(pid, None)
            with contextlib.suppress(Exception):
                mark_dead(pid)
            if index is not None and not stopping:
                log.event("worker-replaced", worker=index, status=status)
                spawn(index)
            continue
        if stopping and time.monotonic() > deadline:
            _signal_all(children, signal.SIGKILL)
        if not stopping:
            for pid, index in list(children.items()):
                if beats.age(index) > stall:
                    log.event("worker-stalled", worker=index, seconds=round(beats.age(index), 1))
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    beats.beat(index)  # once: the replacement gets its own time
        time.sleep(0.05)


class _Log:
    def event(self, name: str, **fields: Any) -> None:
        import json

        sys.stderr.write(json.dumps({"ts": round(time.time(), 3), "event": name, "pid": os.getpid(),
                                     **fields}) + "\n")
        sys.stderr.flush()


def _check_decision_log(path: str) -> None:
    from ..errors import Location

    if not path:
        raise BadInput("--decision-log needs a file name", Location("--decision-log"))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise BadInput(f"cannot write: {exc.strerror or exc}", Location(path)) from None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadInput("the decision log must be a regular file", Location(path))
    finally:
        os.close(fd)


def _reload(service: Service, children: dict[int, int], log: _Log) -> None:
    try:
        rs = load_rules(service.rules)  # writes the compiled cache the workers then read
    except SeoibError as err:
        log.event("reload-refused", error={"message": err.message,
                                           "location": str(err.location or "rules"),
                                           "detail": str(err)})
        _signal_all(children, signal.SIGUSR2)  # the workers still reopen logs and token files
        return
    log.event("reload-announced", digest=rs.digest)
    _signal_all(children, signal.SIGUSR1)


def _signal_all(children: dict[int, int], sig: int) -> None:
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
