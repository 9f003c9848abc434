"""``seoib probe``: print this host's spec (kernel, x2APIC API mask, QEMU, machine types).

The JSON form is a host spec the other commands accept as ``--host @probe.json``;
the text form says how to write one. ``--format labels`` prints Kubernetes node
labels (seoib/inputs/labels.py). Where the QEMU binary's measured machine facts
differ from the rules, the differences are listed and the exit code is 1; so it is
when the probe cannot judge the host (a label would be ``unknown``: no usable KVM and
a kernel release the rules cannot place, no QEMU found), with the reason on stderr.
The machine types are started in each kernel-irqchip mode, a sample of them unless
``--all-machines`` asks for every one; the output says which KVM answered
(vmx, svm, pvm, other) and whether it processes a guest's EOI at delivery.
"""

from __future__ import annotations

import argparse
import sys

from ..inputs.behaviour import with_behaviour
from ..inputs.probe import RUN_TIMEOUT, probe_host
from .common import add_rules, path_arg, rules_of
from .fields import add_fields, check_fields, render_fields
from .output import one_line

__all__ = ["add_arguments", "run"]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 600 seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json", "labels"), default="text")
    parser.add_argument(
        "--qemu", metavar="BINARY", type=path_arg, help="QEMU binary to ask (default: the first one on PATH)"
    )
    parser.add_argument("--kvm", metavar="PATH", default="/dev/kvm", type=path_arg,
                        help="KVM device (default: /dev/kvm)")
    parser.add_argument("--timeout", metavar="SECONDS", type=_seconds, default=RUN_TIMEOUT,
                        help=f"kill a QEMU run that has not answered by then (default: {RUN_TIMEOUT:g})")
    parser.add_argument("--all-machines", action="store_true",
                        help="start every registered machine type in each kernel-irqchip mode "
                             "(default: a sample, the default type and the newest of each compat "
                             "class)")
    parser.add_argument("--prefix", default="seoib.dev", type=_prefix,
                        help="label key prefix for --format labels (default: seoib.dev)")
    add_fields(parser)
    add_rules(parser)


def _prefix(text: str) -> str:
    """--prefix: a DNS subdomain, checked before the probe (a label key has one slash)."""
    from ..inputs.labels import DNS_SUBDOMAIN

    if len(text) > 253 or not DNS_SUBDOMAIN.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a DNS subdomain of at most 253 characters (lower-case letters, "
            "digits, '-' and '.'); a label key is PREFIX/NAME with one '/', e.g. --prefix "
            "seoib.example.com")
    return text


def run(args: argparse.Namespace) -> int:
    from ..inputs.labels import UNKNOWN, probe_labels, render_labels

    check_fields(args.fields, "probe")
    result = probe_host(kvm_path=args.kvm, qemu_binary=args.qemu, rules=lambda: rules_of(args),
                        timeout=args.timeout, all_machines=args.all_machines)
    result = with_behaviour(result, args.kvm, rules_of(args))
    # The labels say what the rules can decide about this host; one "unknown" means the
    # probe cannot judge it (no usable KVM and a kernel the rules cannot place, no QEMU).
    labels, notes = probe_labels(result, rules_of(args), prefix=args.prefix)
    unknown = sorted(k.rpartition("/")[2] for k, v in labels.items() if v == UNKNOWN)
    if args.fields:
        sys.stdout.write(render_fields(result.to_dict(), args.fields, args.format))
    elif args.format == "labels":
        sys.stdout.write(render_labels(labels))
    else:
        sys.stdout.write(result.to_json() if args.format == "json" else result.to_text())
    if not getattr(args, "quiet", False) and (unknown or args.format == "labels"):
        if unknown:
            sys.stderr.write(f"seoib: note: the probe cannot judge this host ({', '.join(unknown)} "
                             "unknown)\n")
        for note in notes:
            sys.stderr.write(f"seoib: note: {one_line(note)}\n")
    behaves = result.behaviour is None or result.behaviour["as_rules_predict"]
    return 1 if unknown or result.warnings or not behaves else 0
