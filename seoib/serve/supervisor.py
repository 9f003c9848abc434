"""Run the decision service: one listening socket, a worker per core, rules loaded once.

The supervisor loads (and checks) the rule set, binds the socket, creates the
shared metrics and forks the workers, so every worker starts with the rules
already in memory. Each worker runs uvicorn (httptools parser, uvloop loop)
on the inherited socket. SIGHUP to the supervisor loads the rules again: a bad
rule set is refused with its file:line in the log and nothing changes; a good
one is announced to every worker (SIGUSR1), which swaps it in between requests.
SIGTERM or SIGINT stops the workers gracefully (requests in flight finish).
A worker that dies is replaced.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from typing import Any

from ..errors import BadInput, SeoibError
from ..rules.ruleset import load_rules
from .app import Limits, Service
from .metrics import Metrics

__all__ = ["serve"]


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BadInput(f"cannot resolve {host!r}: {exc.strerror}") from None
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


def _run_worker(index: int, sock: socket.socket, service: Service) -> None:
    """In the forked child: serve until told to stop, then exit without returning."""
    code = 0
    try:
        import uvicorn

        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor owns reloads
        service.metrics.bind(index)
        config = uvicorn.Config(service, loop=_loop(), http=_http(), lifespan="on",
                                access_log=False, log_level="warning", timeout_keep_alive=30,
                                backlog=4096, server_header=False, date_header=False)
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


def _http() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def serve(host: str, port: int, workers: int, rules: Any, *, access_log: bool = True,
          limits: Limits | None = None) -> int:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        raise BadInput("the decision service needs its server: pip install 'seoib-engine[serve]'") \
            from None
    rs = load_rules(rules)  # once, before forking: every worker inherits it
    sock = _bind(host, port)
    metrics = Metrics(workers)
    service = Service(rules, rs, metrics, limits=limits, access_log=access_log)
    os.environ["SEOIB_SERVE_SUPERVISOR"] = str(os.getpid())
    pending: list[int] = []
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, _f: pending.append(s))
    children: dict[int, int] = {}

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            _run_worker(index, sock, service)
        children[pid] = index

    for i in range(workers):
        spawn(i)
    bound = sock.getsockname()
    service.event("listening", host=bound[0], port=bound[1], workers=workers, rules=rs.digest,
                  server=f"uvicorn ({_http()}, {_loop()})")
    sys.stderr.flush()
    stopping = False
    deadline = 0.0
    while children:
        while pending:
            sig = pending.pop(0)
            if sig == signal.SIGHUP and not stopping:
                _reload(service, children)
            elif sig in (signal.SIGTERM, signal.SIGINT) and not stopping:
                stopping = True
                _signal_all(children, signal.SIGTERM)
                deadline = time.monotonic() + 15
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            index = children.pop(pid)
            if not stopping:
                service.event("worker-replaced", worker=index, status=status)
                spawn(index)
            continue
        if stopping and time.monotonic() > deadline:
            _signal_all(children, signal.SIGKILL)
        time.sleep(0.05)
    sock.close()
    service.event("stopped")
    return 0


def _reload(service: Service, children: dict[int, int]) -> None:
    try:
        rs = load_rules(service.rules)  # writes the compiled cache the workers then read
    except SeoibError as err:
        service.event("reload-refused", error={"message": err.message,
                                                "location": str(err.location or "rules"),
                                                "detail": str(err)})
        return
    service.event("reload-announced", digest=rs.digest)
    _signal_all(children, signal.SIGUSR1)


def _signal_all(children: dict[int, int], sig: int) -> None:
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
