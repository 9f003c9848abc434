"""``seoib probe``: print this host's spec (kernel, x2APIC API mask, QEMU, machine types).

The JSON form is a host spec the other commands accept as ``--host @probe.json``.
"""

from __future__ import annotations

import argparse
import sys

from ..inputs.behaviour import with_behaviour
from ..inputs.probe import probe_host

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--qemu", metavar="BINARY", help="QEMU binary to ask (default: the first one on PATH)"
    )
    parser.add_argument("--kvm", metavar="PATH", default="/dev/kvm", help="KVM device (default: /dev/kvm)")


def run(args: argparse.Namespace) -> int:
    result = probe_host(kvm_path=args.kvm, qemu_binary=args.qemu)
    result = with_behaviour(result, args.kvm)
    sys.stdout.write(result.to_json() if args.format == "json" else result.to_text())
    return 0
