"""`seoib serve`: the decision service over HTTP (see seoib.serve)."""

from __future__ import annotations

import argparse
import os

from ..errors import BadInput, Location
from .common import add_rules

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8470, metavar="N", help="TCP port (default 8470)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes (default: one per core)")
    parser.add_argument("--max-body", type=int, default=1 << 20, metavar="BYTES",
                        help="largest request body accepted (default 1 MiB)")
    parser.add_argument("--request-seconds", type=float, default=10.0, metavar="S",
                        help="time budget of one request, and for its body to arrive (default 10)")
    parser.add_argument("--no-access-log", action="store_true",
                        help="do not write one JSON line per request to stderr")
    add_rules(parser)


def run(args: argparse.Namespace) -> int:
    from ..serve.app import Limits
    from ..serve.supervisor import serve

    if not 0 <= args.port <= 65535:
        raise BadInput(f"port {args.port} is not in 0..65535", Location("--port"))
    if not 1 <= args.workers <= 256:
        raise BadInput(f"--workers {args.workers} is not in 1..256", Location("--workers"))
    if args.max_body < 1 or args.request_seconds <= 0:
        raise BadInput("limits must be positive", Location("--max-body/--request-seconds"))
    limits = Limits(max_body=args.max_body, body_seconds=args.request_seconds,
                    request_seconds=args.request_seconds)
    return serve(args.host, args.port, args.workers, getattr(args, "rules", None),
                 access_log=not args.no_access_log, limits=limits)
