"""`seoib policy`: which SEOIB policy a VM gets at power-on on a host, and what follows."""

from __future__ import annotations

import argparse
import sys

from ..errors import BadInput, Location
from ..files import check_path
from ..query.text import render_policy
from ..query.verdicts import policy_verdict
from .batchio import add_batch, run_batch_option
from .common import add_format, add_rules, add_vm_inputs, emit_json, exit_code, host_arg, rules_of, vm_arg
from .fields import add_fields, check_fields, render_fields

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # --host is required unless --batch: argparse cannot say so, the usage line does.
    parser.usage = ("%(prog)s [-h] (--host SPEC (--vm SPEC | --domain-xml FILE | "
                    "--qemu-cmdline CMDLINE) | --batch FILE) [--format {text,json}] [--fields NAME,...] "
                    "[--rules DIR] [-q]")
    parser.add_argument("--host", metavar="SPEC",
                        help="host spec: kernel=7.0.3,qemu=11.0.0[,seoib=rfc-v2] or @probe.json "
                             "(required unless --batch)")
    add_vm_inputs(parser)
    add_format(parser, batch=True)
    add_fields(parser)
    add_rules(parser)
    add_batch(parser, '{"host": ..., "vm": ...}')


def run(args: argparse.Namespace) -> int:
    if args.batch is not None:
        if args.fields:
            raise BadInput("--fields selects from one answer; --batch writes whole verdicts",
                           Location("--fields"))
        check_path(args.batch, "--batch")
        return run_batch_option(args, "policy", ("host", "vm", "domain_xml", "qemu_cmdline"))
    if args.host is None:
        raise BadInput("policy: the following arguments are required: --host "
                       "(or --batch FILE; see seoib policy --help)")
    check_fields(args.fields, "policy")
    rs = rules_of(args)
    host = rs.resolver.host(host_arg(args.host, "--host"))
    vm = rs.resolver.vm(vm_arg(args), host)
    verdict = policy_verdict(rs, host, vm)
    if args.fields:
        sys.stdout.write(render_fields(verdict, args.fields, args.format))
    elif args.format == "json":
        emit_json(verdict)
    else:
        sys.stdout.write(render_policy(verdict))
    return exit_code(verdict)
