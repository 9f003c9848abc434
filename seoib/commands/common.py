"""Argument helpers shared by commands: rules, specs, output format."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import Disagreement, Location
from ..rules.ruleset import RuleSet, load_rules
from ..rules.specs import HostSpec, VMSpec, parse_host_spec, parse_vm_spec

__all__ = ["add_format", "add_rules", "emit_json", "host_arg", "path_arg", "rules_of", "vm_arg"]


def path_arg(text: str) -> str:
    """argparse ``type`` of every path option: ``Path("")`` is ``.``, so an empty path would
    quietly mean the current directory; it is refused (exit 3) instead."""
    if not text:
        raise argparse.ArgumentTypeError("empty path (give a file or directory name)")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL byte")
    return text


def add_rules(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", metavar="DIR", action="append", type=path_arg,
                        help="rule directory; repeat to overlay several (a partial directory "
                             "is merged over the built-in rules and SEOIB_RULES)")


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json"),
               batch: bool = False) -> None:
    """``--format``, the first choice by default; with ``batch`` the default stays None so a
    ``--format text`` given beside ``--batch`` (which writes JSON Lines) can be refused."""
    parser.add_argument("--format", choices=choices, default=None if batch else choices[0],
                        help=f"output format (default {choices[0]}"
                        + ("; --batch writes JSON Lines)" if batch else ")"))


def rules_of(args: argparse.Namespace) -> RuleSet:
    return load_rules(getattr(args, "rules", None))


def host_arg(text: str, option: str) -> HostSpec:
    return parse_host_spec(text, Location(option))


def vm_arg(args: argparse.Namespace) -> VMSpec:
    """The VM spec from --vm, --domain-xml or --qemu-cmdline (exactly one)."""
    from .vm_args import vm_spec_from_args

    return vm_spec_from_args(args)


def add_vm_inputs(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("VM (one of)")
    group.add_argument("--vm", metavar="SPEC", help="VM spec: machine=...,irqchip=...,guest=...")
    group.add_argument("--domain-xml", metavar="FILE", type=path_arg,
                       help="a libvirt domain XML file")
    group.add_argument("--qemu-cmdline", metavar="CMDLINE",
                       help="a QEMU command line, or @FILE holding one")


def exit_code(verdict: dict[str, Any]) -> int:
    """0/1/2 by severity, once the verdict is printed.

    Raises Disagreement (exit 4, its message on stderr from the CLI) when the
    simulator did not reproduce the verdict: a verdict nobody could confirm is
    never passed off with its own severity.
    """
    from ..vocabulary import EXIT_BY_SEVERITY

    witness = verdict.get("witness", {})
    if witness.get("agrees") is False:
        diffs = "; ".join(witness.get("differences", [])) or "no details"
        raise Disagreement(f"the solver and the simulator disagree: {diffs}")
    return EXIT_BY_SEVERITY[verdict["severity"]]


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def parse_vm(text: str, option: str = "--vm") -> VMSpec:
    return parse_vm_spec(text, Location(option))
