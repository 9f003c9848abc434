"""`seoib migrate`: is a live migration (or a snapshot restore) between two stacks safe."""

from __future__ import annotations

import argparse
import sys

from ..errors import BadInput, Location
from ..files import check_path
from ..query.text import render_migrate
from ..query.verdicts import migrate_verdict
from .batchio import add_batch, run_batch_option
from .common import add_format, add_rules, add_vm_inputs, emit_json, exit_code, host_arg, rules_of, vm_arg
from .fields import add_fields, check_fields, render_fields

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # --src and --dst are required unless --batch: argparse cannot say so, the usage line does.
    parser.usage = ("%(prog)s [-h] (--src SPEC --dst SPEC (--vm SPEC | --domain-xml FILE | "
                    "--qemu-cmdline CMDLINE) [--snapshot] | --batch FILE) [--format {text,json}] "
                    "[--fields NAME,...] [--rules DIR] [-q]")
    parser.add_argument("--src", metavar="SPEC",
                        help="source host spec (where the VM was booted; required unless --batch)")
    parser.add_argument("--dst", metavar="SPEC",
                        help="destination host spec (required unless --batch)")
    add_vm_inputs(parser)
    parser.add_argument("--snapshot", action="store_true",
                        help="judge a QMP/HMP loadvm of the source's snapshot into a VM running on "
                             "the destination, instead of a live migration")
    add_format(parser, batch=True)
    add_fields(parser)
    add_rules(parser)
    add_batch(parser, '{"src": ..., "dst": ..., "vm": ..., "snapshot": false}')


def run(args: argparse.Namespace) -> int:
    if args.batch is not None:
        if args.fields:
            raise BadInput("--fields selects from one answer; --batch writes whole verdicts",
                           Location("--fields"))
        check_path(args.batch, "--batch")
        return run_batch_option(args, "migrate", ("src", "dst", "vm", "domain_xml", "qemu_cmdline",
                                                  "snapshot"))
    # Not argparse-required, so that --batch can stand alone; the message is argparse's.
    missing = [opt for opt, value in (("--src", args.src), ("--dst", args.dst)) if value is None]
    if missing:
        raise BadInput(f"migrate: the following arguments are required: {', '.join(missing)} "
                       "(or --batch FILE; see seoib migrate --help)")
    check_fields(args.fields, "migrate")
    rs = rules_of(args)
    src = rs.resolver.host(host_arg(args.src, "--src"))
    dst = rs.resolver.host(host_arg(args.dst, "--dst"))
    # Aliases resolve on the source: the running VM's machine type is fixed there.
    vm = rs.resolver.vm(vm_arg(args), src)
    verdict = migrate_verdict(rs, src, dst, vm, snapshot=args.snapshot)
    if args.fields:
        sys.stdout.write(render_fields(verdict, args.fields, args.format))
    elif args.format == "json":
        emit_json(verdict)
    else:
        sys.stdout.write(render_migrate(verdict))
    return exit_code(verdict)
