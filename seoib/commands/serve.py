"""`seoib serve`: the decision service over HTTP (see seoib.serve)."""

from __future__ import annotations

import argparse
import math
import os

from ..errors import BadInput, Location
from .common import add_rules

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                        help="address to listen on (default 127.0.0.1: this machine only; any other "
                        "needs a token or --insecure)")
    parser.add_argument("--port", type=int, default=8470, metavar="N", help="TCP port (default 8470)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes (default: one per core)")
    auth = parser.add_argument_group("exposure")
    auth.add_argument("--token-file", metavar="FILE",
                      help="bearer tokens, one a line: every route but the probes then needs "
                      "'Authorization: Bearer TOKEN' (or set SEOIB_SERVE_TOKEN); read again on reload")
    auth.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain)")
    auth.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    auth.add_argument("--insecure", action="store_true",
                      help="allow an address reachable from other machines without a token")
    budget = parser.add_argument_group("budgets and limits")
    budget.add_argument("--request-seconds", type=float, default=10.0, metavar="S",
                        help="time budget of every request, /v1/check included, and for its body to "
                        "arrive (default 10)")
    budget.add_argument("--request-memory", type=int, default=512, metavar="MiB",
                        help="memory budget of a request that runs in a job process (a plan, a long "
                        "list, a reload; default 512)")
    budget.add_argument("--max-body", type=int, default=1 << 20, metavar="BYTES",
                        help="largest JSON request body (default 1 MiB; YAML plans: a quarter)")
    budget.add_argument("--max-connections", type=int, default=4096, metavar="N",
                        help="open connections, all workers together; past it the oldest idle one "
                        "is closed (default 4096)")
    budget.add_argument("--header-seconds", type=float, default=10.0, metavar="S",
                        help="time for a request's headers to arrive (default 10)")
    budget.add_argument("--idle-seconds", type=float, default=5.0, metavar="S",
                        help="keep-alive: close a connection idle this long (default 5)")
    budget.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="job processes per worker for heavy requests (default 1)")
    logs = parser.add_argument_group("logs")
    logs.add_argument("--access-log", action="store_true",
                      help="write one JSON line per request to stderr (off by default: it costs "
                      "throughput)")
    logs.add_argument("--no-access-log", action="store_true", help=argparse.SUPPRESS)  # the old default
    logs.add_argument("--decision-log", metavar="FILE",
                      help="append one JSON line per decision (input, result, rules, id) to FILE")
    add_rules(parser)


def _positive(value: float, option: str, *, ceiling: float | None = None) -> None:
    if not math.isfinite(value) or value <= 0 or (ceiling is not None and value > ceiling):
        bound = f" and at most {ceiling:g}" if ceiling is not None else ""
        raise BadInput(f"{option} must be a positive number{bound}, not {value!r}", Location(option))


def run(args: argparse.Namespace) -> int:
    from ..serve.app import Limits
    from ..serve.exposure import load_tokens, tls_context
    from ..serve.supervisor import Exposure, serve

    if not 0 <= args.port <= 65535:
        raise BadInput(f"port {args.port} is not in 0..65535", Location("--port"))
    if not 1 <= args.workers <= 256:
        raise BadInput(f"--workers {args.workers} is not in 1..256", Location("--workers"))
    if not 1 <= args.jobs <= 64:
        raise BadInput(f"--jobs {args.jobs} is not in 1..64", Location("--jobs"))
    _positive(args.request_seconds, "--request-seconds", ceiling=3600)
    _positive(args.header_seconds, "--header-seconds", ceiling=3600)
    _positive(args.idle_seconds, "--idle-seconds", ceiling=3600)
    _positive(args.max_body, "--max-body", ceiling=1 << 30)
    _positive(args.request_memory, "--request-memory", ceiling=1 << 20)
    _positive(args.max_connections, "--max-connections", ceiling=1 << 20)
    limits = Limits(max_body=args.max_body, max_yaml_body=max(1, args.max_body // 4),
                    body_seconds=args.request_seconds, request_seconds=args.request_seconds,
                    request_memory=args.request_memory << 20, jobs=args.jobs)
    exposure = Exposure(args.host, args.port, load_tokens(args.token_file),
                        tls_context(args.tls_cert, args.tls_key), args.insecure)
    return serve(exposure, args.workers, getattr(args, "rules", None),
                 access_log=args.access_log and not args.no_access_log, limits=limits,
                 decision_log=args.decision_log, max_connections=args.max_connections,
                 header_seconds=args.header_seconds, idle_seconds=args.idle_seconds)
